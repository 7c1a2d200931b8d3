package db

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// InBatches runs step in a transaction of its own, again and again, until a
// step reports that it changed nothing; each committed step's count is added
// to the total, which progress (if set) is told after every batch. A failing
// step rolls its own batch back and stops the run, with the batches before it
// committed: a run stopped half way resumes where it stopped, so long as step
// picks up only what is still to do (key rotations, backfills).
func InBatches(ctx context.Context, b Beginner, step func(tx pgx.Tx) (int, error), progress func(done int)) (int, error) {
	done := 0
	for {
		n := 0
		if err := pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error {
			var err error
			n, err = step(tx)
			return err
		}); err != nil {
			return done, err
		}
		if n == 0 {
			return done, nil
		}
		done += n
		if progress != nil {
			progress(done)
		}
	}
}
