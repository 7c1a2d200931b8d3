package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/migrations"
)

func serve(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *slog.Logger) error {
	if cfg.Development() {
		log.Warn("DEVELOPMENT MODE (CIVICPAY_ENV=development): demo gateway secrets published in the repository, " +
			"plain http to gateways and statements, and a random receipt secret are allowed; never run it with real money")
	}
	a, err := app.New(ctx, cfg, pool, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" && cfg.MetricsAddr != "off" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen on %s (CIVICPAY_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
	}
	return a.Run(ctx, ln, metricsLn)
}

func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	if err := migrations.Up(ctx, pool, log); err != nil {
		return err
	}
	log.Info("database is up to date")
	return nil
}
