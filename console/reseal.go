package console

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

// ResealTOTPSecrets seals under keys' current key every staff TOTP secret
// sealed under another, batch users per transaction, each batch audited
// (actor from ctx); for `civicpay keys rotate-data-key`. It is resumable and
// returns how many secrets it changed. A secret under a key no longer
// configured stops it, naming the user.
func ResealTOTPSecrets(ctx context.Context, pool *pgxpool.Pool, keys *secretbox.Keyring, batch int) (int, error) {
	prefix := keys.CurrentPrefix()
	last := uuid.Nil
	done, err := db.InBatches(ctx, pool, func(tx pgx.Tx) (int, error) {
		rows, err := tx.Query(ctx, `SELECT id, totp_secret FROM staff_users
			WHERE id > $1 AND totp_secret IS NOT NULL AND substring(totp_secret FROM 1 FOR length($2::bytea)) <> $2
			ORDER BY id LIMIT $3 FOR UPDATE`, last, prefix, batch)
		if err != nil {
			return 0, err
		}
		var ids []uuid.UUID
		var sealed [][]byte
		var id uuid.UUID
		var old []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &old}, func() error {
			plain, err := keys.Open(old, totpAD(id))
			if err != nil {
				return fmt.Errorf("staff user %s: %w", id, err)
			}
			s, err := keys.Seal(plain, totpAD(id))
			if err != nil {
				return err
			}
			ids, sealed = append(ids, id), append(sealed, s)
			return nil
		})
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_users s SET totp_secret = u.enc
			FROM unnest($1::uuid[], $2::bytea[]) AS u(id, enc) WHERE s.id = u.id`, ids, sealed); err != nil {
			return 0, err
		}
		last = ids[len(ids)-1]
		return len(ids), audit.Record(ctx, tx, audit.Event{Action: "data_key.reseal", ResourceType: "staff_users",
			ResourceID: ids[0].String() + ".." + last.String(),
			After:      map[string]any{"key_id": keys.Current(), "staff_users": len(ids), "column": "totp_secret"}})
	}, nil)
	if err != nil {
		return done, fmt.Errorf("re-encrypt staff TOTP secrets: %w", err)
	}
	return done, nil
}
