package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
)

const reconcileUsage = `usage:
  civicpay reconcile --date YYYY-MM-DD [--gateway G]   queue the day's reconciliation (G: vnpay, momo, zalopay or bank)
  civicpay reconcile import FILE                       import and load a statement file, queue its reconciliation
`

// reconcileCmd queues a day's reconciliation — the job the daily schedule
// runs — or imports a file and loads it here and now (so that a refused file
// is said at once). Runs are worked by a running `civicpay serve`, which has
// the gateways and the payment flow that confirming a payment needs.
func reconcileCmd(ctx context.Context, pool *pgxpool.Pool, args []string, out io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	rcfg, err := cfg.ReconConfig()
	if err != nil {
		return err
	}
	svc := reconciliation.New(pool, rcfg, slog.Default(), reconciliation.Deps{})
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{}) // insert-only
	if err != nil {
		return fmt.Errorf("reconcile: river client: %w", err)
	}
	svc.SetJobs(rc)
	if len(args) > 0 && args[0] == "import" {
		ctx = cliContext(ctx, "reconcile import")
		if len(args) != 2 {
			return fmt.Errorf("%w\n%s", errUsage, reconcileUsage)
		}
		return reconcileImport(ctx, pool, svc, args[1], out)
	}
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	date := fs.String("date", "", "business day, YYYY-MM-DD (GMT+7)")
	gateway := fs.String("gateway", "", "one source only: vnpay, momo, zalopay or bank")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *date == "" {
		return fmt.Errorf("%w\n%s", errUsage, reconcileUsage)
	}
	day, err := reconciliation.ParseDay(*date)
	if err != nil {
		return fmt.Errorf("reconcile: --date %q is not YYYY-MM-DD", *date)
	}
	ctx = cliContext(ctx, "reconcile")
	request := cliActor() + "@" + time.Now().UTC().Format("20060102T150405.000000000")
	id, err := svc.EnqueueDay(ctx, day, *gateway, request)
	if err != nil {
		return err
	}
	scope := "every source"
	if *gateway != "" {
		scope = *gateway
	}
	fmt.Fprintf(out, "queued reconciliation of %s (%s) as job %d; a running `civicpay serve` works it\n", *date, scope, id)
	return nil
}

// reconcileImport imports and loads one file and says which runs it queued.
func reconcileImport(ctx context.Context, pool *pgxpool.Pool, svc *reconciliation.Service, path string, out io.Writer) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reconcile import: %w", err)
	}
	defer fh.Close()
	f, err := svc.Import(ctx, fh, rawfile.Meta{Name: filepath.Base(path), Source: rawfile.SourceCLI, ReceivedBy: cliActor()})
	if err != nil {
		return err
	}
	if f.Duplicate {
		fmt.Fprintf(out, "file %d: the same file was imported before (%s); nothing changed\n", f.ID, f.Status)
		return nil
	}
	if f, err = svc.Load(ctx, f.ID); err != nil {
		return err
	}
	if f.Status == reconciliation.FileRefused {
		return fmt.Errorf("reconcile import: file %d (%s) refused: %s", f.ID, f.Kind, f.Error)
	}
	rows, err := pool.Query(ctx, `SELECT id, source, business_date::text FROM recon_runs WHERE trigger = $1 ORDER BY id`,
		fmt.Sprintf("file:%d", f.ID))
	if err != nil {
		return fmt.Errorf("reconcile import: runs: %w", err)
	}
	defer rows.Close()
	fmt.Fprintf(out, "file %d: %s %s, %d lines\n", f.ID, f.Kind, f.Status, f.LinesDone)
	for rows.Next() {
		var id int64
		var source, day string
		if err := rows.Scan(&id, &source, &day); err != nil {
			return fmt.Errorf("reconcile import: runs: %w", err)
		}
		fmt.Fprintf(out, "queued run %d: %s %s\n", id, source, day)
	}
	return rows.Err()
}

// cliActor names the person at the terminal in what they record: the
// operating system's user.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli:unknown"
}
