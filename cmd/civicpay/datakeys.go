package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/user"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/webhooks"
)

// rotateDataKey re-encrypts, under CIVICPAY_DATA_KEY_ID, every national ID,
// webhook signing secret and staff TOTP secret in clear (from before migration 00013) or sealed under
// another key, in batches of --batch rows per transaction, printing progress.
// Run it after changing the current key (keep the old key listed until it
// finishes) and once after upgrading. Stopping it half way loses nothing; run
// it again to finish.
func rotateDataKey(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keys rotate-data-key", flag.ContinueOnError)
	batch := fs.Int("batch", 1000, "rows per transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *batch < 1 || fs.NArg() > 0 {
		return fmt.Errorf("%w: keys rotate-data-key [--batch N]", errUsage)
	}
	keys, err := cfg.DataKeyring(cfg.Development(), slog.Default())
	if err != nil {
		return err
	}
	if _, ok := audit.ActorFrom(ctx); !ok {
		name := "unknown"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		ctx = audit.WithActor(ctx, audit.Actor{ID: "cli:" + name, Role: "cli", Route: "keys rotate-data-key"})
	}
	fmt.Fprintf(out, "re-encrypting under data key %q, %d rows per transaction\n", keys.Current(), *batch)
	n, err := payments.ResealNationalIDs(ctx, pool, keys, *batch, func(done int) {
		fmt.Fprintf(out, "orders: %d national IDs re-encrypted\n", done)
	})
	if err != nil {
		return err
	}
	m, err := webhooks.ResealSecrets(ctx, pool, keys, *batch, func(done int) {
		fmt.Fprintf(out, "webhook endpoints: %d signing secrets re-encrypted\n", done)
	})
	if err != nil {
		return err
	}
	k, err := console.ResealTOTPSecrets(ctx, pool, keys, *batch)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "staff users: %d TOTP secrets re-encrypted\n", k)
	fmt.Fprintf(out, "done: %d orders and %d webhook endpoints re-encrypted; every value is under %q\n", n, m, keys.Current())
	return nil
}
