// Package db opens the service's PostgreSQL pool with the types civicpay needs
// registered (NUMERIC as decimal.Decimal) and a pool sized for HTTP plus River.
package db

import (
	"context"
	"fmt"
	"time"

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

// DefaultConnectTimeout bounds making a connection when DATABASE_URL does
// not (connect_timeout): without it, a database host that stops answering
// (not refusing) holds every request that needs a new connection until its
// client gives up; with it, the request gets a 503 (db.Classify: connect).
const DefaultConnectTimeout = 5 * time.Second

// Config is the pool configuration Open uses for url.
func Config(url string, opts Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db: parse DATABASE_URL: %w", err)
	}
	cfg.MaxConns = 32
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.AfterConnect = AfterConnect
	return cfg, nil
}

// Open connects to url and verifies the connection with a ping.
func Open(ctx context.Context, url string, opts Options) (*pgxpool.Pool, error) {
	cfg, err := Config(url, opts)
	if err != nil {
		return nil, err
	}
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
