// Command civicpay is the one binary of the service:
//
//	civicpay serve                      run the HTTP API and the River workers
//	civicpay migrate                    apply River's and civicpay's migrations
//	civicpay keys create --role R [--agency CODE] [--also treasury] [--name N] [--expires D]
//	civicpay keys list | keys revoke ID|PREFIX
//	civicpay keys rotate-data-key [--batch N]
//	civicpay ledger verify              prove the books (exit 1 naming the first broken thing)
//	civicpay ledger rebuild-rollups     remake the revenue rollups and balance checkpoints
//	civicpay reconcile --date D [--gateway G] | reconcile import FILE
//	civicpay users create --email E --role agency|treasury|admin [--agency CODE] [--can-refund]
//	civicpay users link --email E | users totp-code SECRET
//	civicpay demo                       seed the demo catalogue (idempotent)
//
// Configuration comes from the environment (see the README); DATABASE_URL is required.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/db"
)

const usage = `usage: civicpay <command> [flags]

commands:
  serve                                  run the API and background workers
  migrate                                apply pending migrations (safe to run concurrently)
  keys create --role R [--agency CODE] [--also treasury] [--name N] [--expires 720h]
                                         create an API key and print it once
  keys list                              list keys (never their secrets)
  keys revoke ID|PREFIX                  revoke a key
  keys rotate-data-key [--batch N]       re-encrypt national IDs and webhook secrets under CIVICPAY_DATA_KEY_ID
  ledger verify                          check every entry, balance, seal, rollup and checkpoint; non-zero exit names the first broken thing
  ledger rebuild-rollups                 drop the revenue rollups and balance checkpoints and make them again from the postings
  reconcile --date YYYY-MM-DD [--gateway G]
                                         queue the reconciliation of a business day
  reconcile import FILE                  import a statement or settlement file now
  users create --email E --role agency|treasury|admin [--agency CODE] [--can-refund]
                                         create a staff user of the console; print their one-time set-password link
  users link --email E                   print a new set-password link (forgotten password, lost phone)
  users totp-code SECRET                 print the current TOTP code of a secret (the demo users' secrets)
  demo                                   seed the demo catalogue and print demo keys (and, in development
                                         mode, staff console logins)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "civicpay:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(out, usage)
		return nil
	}
	if len(args) >= 2 && args[0] == "users" && args[1] == "totp-code" {
		return totpCode(args[2:], out) // needs no configuration nor database
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if args[0] == "serve" {
		// Before anything else, database included: an unsafe configuration
		// never serves, and the message names every setting to fix.
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	log := newLogger(cfg.LogLevel)
	slog.SetDefault(log)
	pool, err := db.Open(ctx, cfg.DatabaseURL, db.Options{MaxConns: cfg.DBMaxConns})
	if err != nil {
		return err
	}
	defer pool.Close()

	switch args[0] {
	case "serve":
		return serve(ctx, cfg, pool, log)
	case "migrate":
		return migrate(ctx, pool, log)
	case "keys":
		return keys(ctx, cfg, pool, args[1:], out)
	case "users":
		return users(ctx, cfg, pool, args[1:], out)
	case "ledger":
		return ledgerCmd(ctx, pool, args[1:], out)
	case "demo":
		return demo(cliContext(ctx, "demo"), cfg, pool, out, log)
	case "reconcile":
		return reconcileCmd(ctx, pool, args[1:], out)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

var errUsage = errors.New("bad usage")

// cliContext names the person at the terminal, and the command, as the actor
// of the changes the command makes (the audit log's "who").
func cliContext(ctx context.Context, command string) context.Context {
	return audit.WithActor(ctx, audit.Actor{ID: cliActor(), Role: "cli", Route: "civicpay " + command})
}
