// Package migrations holds civicpay's schema (goose SQL files embedded in the
// binary) and the runner that applies River's migrations and then ours under a
// single PostgreSQL advisory lock, so two `civicpay migrate` processes started at
// once apply everything exactly once.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded SQL files (used by pgtest to key its template database).
func FS() fs.FS { return files }

// lockKey is the advisory lock held while migrating: "civicpay" as an int64.
const lockKey int64 = 0x6369766963706179

// Up applies River's migrations, then civicpay's, holding a session-level advisory
// lock on a dedicated connection for the whole run. A second process blocks on the
// lock and then finds nothing left to do.
func Up(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire lock connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// Unlock on a fresh context: the caller's may be cancelled already.
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey)
	}()

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: quiet(log)})
	if err != nil {
		return fmt.Errorf("migrate: river migrator: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate: river: %w", err)
	}
	for _, v := range res.Versions {
		log.Info("migration applied", "source", "river", "version", v.Version, "name", v.Name)
	}

	provider, closeDB, err := provider(pool)
	if err != nil {
		return err
	}
	defer closeDB()
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: civicpay: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "source", "civicpay", "version", r.Source.Version, "file", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
	}
	return nil
}

// Pending names every migration not yet applied, River's and ours. `serve`
// refuses to start while it is not empty.
func Pending(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	var pending []string
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: quiet(slog.Default())})
	if err != nil {
		return nil, fmt.Errorf("migrate: river migrator: %w", err)
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		// No river_migration table yet: everything is pending.
		existing = nil
	}
	have := map[int]bool{}
	for _, m := range existing {
		have[m.Version] = true
	}
	for _, m := range migrator.AllVersions() {
		if !have[m.Version] {
			pending = append(pending, fmt.Sprintf("river %03d_%s", m.Version, m.Name))
		}
	}

	provider, closeDB, err := provider(pool)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	statuses, err := provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: civicpay status: %w", err)
	}
	for _, s := range statuses {
		if s.State == goose.StatePending {
			pending = append(pending, "civicpay "+s.Source.Path)
		}
	}
	return pending, nil
}

// ErrPending is returned by RequireCurrent when migrations are missing.
var ErrPending = errors.New("migrations pending")

// RequireCurrent fails with ErrPending, naming the missing migrations, unless the
// database is fully migrated.
func RequireCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	pending, err := Pending(ctx, pool)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("%w: %v (run `civicpay migrate`)", ErrPending, pending)
	}
	return nil
}

func provider(pool *pgxpool.Pool) (*goose.Provider, func(), error) {
	sqlDB := stdlib.OpenDBFromPool(pool)
	// Out-of-order is allowed: each domain owns a range of file numbers, so a
	// lower-numbered file may land after a higher one without depending on it.
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, files, goose.WithAllowOutofOrder(true))
	if err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("migrate: goose provider: %w", err)
	}
	return p, func() { _ = sqlDB.Close() }, nil
}

// quiet drops River migrator's info chatter; we log applied versions ourselves.
func quiet(log *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{log.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
