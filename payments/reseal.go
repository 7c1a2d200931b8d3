package payments

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// ResealNationalIDs seals under keys' current key every payer's national ID
// still in clear (written before migration 00013) or sealed under another
// key, batch orders per transaction, each with its audit row (the actor comes
// from ctx). It reports each committed batch to progress and returns how many
// orders it changed. It is resumable: a second run finds nothing to do, and a
// run stopped half way leaves every committed batch done. A value sealed under
// a key no longer configured stops it, naming the key.
func ResealNationalIDs(ctx context.Context, pool *pgxpool.Pool, keys *secretbox.Keyring, batch int, progress func(done int)) (int, error) {
	prefix := keys.CurrentPrefix()
	last := uuid.Nil
	done, err := db.InBatches(ctx, pool, func(tx pgx.Tx) (int, error) {
		rows, err := tx.Query(ctx, `SELECT id, payer_national_id, payer_national_id_enc FROM orders
			WHERE id > $1 AND (payer_national_id IS NOT NULL
				OR (payer_national_id_enc IS NOT NULL AND substring(payer_national_id_enc FROM 1 FOR length($2::bytea)) <> $2))
			ORDER BY id LIMIT $3 FOR UPDATE`, last, prefix, batch)
		if err != nil {
			return 0, err
		}
		var (
			ids           []uuid.UUID
			sealed, hash  [][]byte
			masked        []string
			clear         *string
			id            uuid.UUID
			currentSealed []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &clear, &currentSealed}, func() error {
			nid := ""
			if clear != nil {
				nid = *clear
			} else {
				var err error
				if nid, err = OpenNationalID(keys, id, currentSealed); err != nil {
					return fmt.Errorf("order %s: %w", id, err)
				}
			}
			s, h, m, err := SealNationalID(keys, id, nid)
			if err != nil {
				return err
			}
			ids, sealed, hash, masked = append(ids, id), append(sealed, s), append(hash, h), append(masked, m)
			return nil
		})
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `UPDATE orders o SET payer_national_id = NULL, payer_national_id_enc = u.enc,
				payer_national_id_hash = u.hash, payer_national_id_masked = nullif(u.masked, '')
			FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::text[]) AS u(id, enc, hash, masked)
			WHERE o.id = u.id`, ids, sealed, hash, masked); err != nil {
			return 0, err
		}
		last = ids[len(ids)-1]
		return len(ids), audit.Record(ctx, tx, audit.Event{Action: "data_key.reseal", ResourceType: "orders",
			ResourceID: ids[0].String() + ".." + last.String(),
			After:      map[string]any{"key_id": keys.Current(), "orders": len(ids), "column": "payer_national_id"}})
	}, progress)
	if err != nil {
		return done, fmt.Errorf("re-encrypt national IDs: %w", err)
	}
	return done, nil
}
