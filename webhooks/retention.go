package webhooks

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/db"
)

// PruneAttempts deletes the attempt log rows, made before before, of
// deliveries that succeeded, batch rows per transaction; progress is told
// the running count. Events and deliveries stay (an agency may still ask for
// a resend), and so do the attempts of a delivery that failed or is still
// trying. Running it twice, or on two instances at once, deletes each row
// once.
func PruneAttempts(ctx context.Context, pool *pgxpool.Pool, before time.Time, batch int, progress func(int)) (int, error) {
	n, err := db.InBatches(ctx, pool, func(tx pgx.Tx) (int, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_attempts WHERE id IN (
			SELECT a.id FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
			 WHERE a.attempted_at < $1 AND d.state = 'succeeded'
			 ORDER BY a.id LIMIT $2 FOR UPDATE OF a SKIP LOCKED)`, before, batch)
		return int(tag.RowsAffected()), err
	}, progress)
	if err != nil {
		return n, fmt.Errorf("webhooks: prune attempts: %w", err)
	}
	return n, nil
}
