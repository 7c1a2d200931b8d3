// Package db opens the service's PostgreSQL pool with the types civicpay needs
// registered (NUMERIC as decimal.Decimal) and a pool sized for HTTP plus River.
package db

import (
	"context"
	"fmt"

	pgxdecimal "github.com/jackc/pgx-shopspring-decimal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune the pool. Zero values pick sensible defaults.
type Options struct {
	// MaxConns bounds the pool. pgxpool's default (max(4, CPUs)) is too small for
	// HTTP handlers plus River workers plus River's listener, so default to 32.
	MaxConns int32
}

// Open connects to url and verifies the connection with a ping.
func Open(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db: parse DATABASE_URL: %w", err)
	}
	cfg.MaxConns = 32
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.AfterConnect = AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("db: ping: %w", err)
	}
	return pool, nil
}

// AfterConnect registers the NUMERIC <-> decimal.Decimal codec on a new connection.
func AfterConnect(_ context.Context, conn *pgx.Conn) error {
	pgxdecimal.Register(conn.TypeMap())
	return nil
}
