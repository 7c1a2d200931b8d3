package webhooks

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

// ResealSecrets seals under keys' current key every endpoint signing secret
// (current and previous) still in clear or sealed under another key, batch
// endpoints per transaction with an audit row each (the actor comes from ctx),
// reporting each batch to progress; it returns how many endpoints it changed.
// Resumable like payments.ResealNationalIDs.
func ResealSecrets(ctx context.Context, pool *pgxpool.Pool, keys *secretbox.Keyring, batch int, progress func(done int)) (int, error) {
	prefix := keys.CurrentPrefix()
	last := uuid.Nil
	done, err := db.InBatches(ctx, pool, func(tx pgx.Tx) (int, error) {
		rows, err := tx.Query(ctx, `SELECT id, secret, secret_enc, previous_secret, previous_secret_enc FROM webhook_endpoints
			WHERE id > @last AND (secret IS NOT NULL OR previous_secret IS NOT NULL
				OR substring(secret_enc FROM 1 FOR length(@prefix::bytea)) <> @prefix
				OR substring(previous_secret_enc FROM 1 FOR length(@prefix::bytea)) <> @prefix)
			ORDER BY id LIMIT @batch FOR UPDATE`, pgx.NamedArgs{"last": last, "prefix": prefix, "batch": batch})
		if err != nil {
			return 0, err
		}
		var (
			ids                  []uuid.UUID
			current, previous    [][]byte
			id                   uuid.UUID
			clear, clearPrevious *string
			sealed, sealedPrev   []byte
		)
		// reseal returns the value (in clear or sealed) sealed under the current key.
		reseal := func(clear *string, sealed []byte) ([]byte, error) {
			var plain string
			switch {
			case clear != nil:
				plain = *clear
			case sealed != nil:
				var err error
				if plain, err = OpenSecret(keys, id, sealed); err != nil {
					return nil, fmt.Errorf("endpoint %s: %w", id, err)
				}
			default:
				return nil, nil
			}
			return SealSecret(keys, id, plain)
		}
		_, err = pgx.ForEachRow(rows, []any{&id, &clear, &sealed, &clearPrevious, &sealedPrev}, func() error {
			c, err := reseal(clear, sealed)
			if err != nil {
				return err
			}
			p, err := reseal(clearPrevious, sealedPrev)
			if err != nil {
				return err
			}
			ids, current, previous = append(ids, id), append(current, c), append(previous, p)
			return nil
		})
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints e SET secret = NULL, secret_enc = u.enc,
				previous_secret = NULL, previous_secret_enc = u.prev
			FROM unnest(@ids::uuid[], @current::bytea[], @previous::bytea[]) AS u(id, enc, prev)
			WHERE e.id = u.id`, pgx.NamedArgs{"ids": ids, "current": current, "previous": previous}); err != nil {
			return 0, err
		}
		last = ids[len(ids)-1]
		return len(ids), audit.Record(ctx, tx, audit.Event{Action: "data_key.reseal", ResourceType: "webhook_endpoints",
			ResourceID: ids[0].String() + ".." + last.String(),
			After:      map[string]any{"key_id": keys.Current(), "endpoints": len(ids), "column": "secret"}})
	}, progress)
	if err != nil {
		return done, fmt.Errorf("re-encrypt webhook secrets: %w", err)
	}
	return done, nil
}
