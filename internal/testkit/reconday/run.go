package reconday

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
)

// NewService is the reconciliation service of the database at url (on
// pool), with p's fees and no fetching (the files come from the caller),
// and an insert-only River client: the caller works the jobs itself.
func (p *Plan) NewService(url string, pool *pgxpool.Pool, log *slog.Logger) (*reconciliation.Service, error) {
	rcfg, err := config.Defaults(url).ReconConfig()
	if err != nil {
		return nil, err
	}
	rcfg.SettlementURL, rcfg.StatementURL, rcfg.Fees = "", "", p.Fees()
	svc := reconciliation.New(pool, rcfg, log, reconciliation.Deps{})
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return nil, err
	}
	svc.SetJobs(jobs)
	return svc, nil
}

// Reconcile imports, loads and runs the file at path as the jobs do, and
// times it. A non-empty cpuprofile profiles it into that file.
func Reconcile(ctx context.Context, svc *reconciliation.Service, path, cpuprofile string) (time.Duration, reconciliation.Run, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, reconciliation.Run{}, err
	}
	defer fh.Close()
	if cpuprofile != "" {
		out, err := os.Create(cpuprofile)
		if err != nil {
			return 0, reconciliation.Run{}, err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return 0, reconciliation.Run{}, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	f, err := svc.Import(audit.System(ctx, "reconday"), fh, rawfile.Meta{Name: "settlement.csv", Source: rawfile.SourceCLI, ReceivedBy: "reconday"})
	if err != nil {
		return 0, reconciliation.Run{}, err
	}
	imported := time.Since(start)
	if f, err = svc.Load(ctx, f.ID); err != nil {
		return 0, reconciliation.Run{}, err
	}
	if f.Status != reconciliation.FileLoaded {
		return 0, reconciliation.Run{}, fmt.Errorf("file %d %s: %s", f.ID, f.Status, f.Error)
	}
	loaded := time.Since(start)
	runs, err := svc.Runs(ctx, reconciliation.RunFilter{Status: reconciliation.RunQueued, Limit: 10})
	if err != nil || len(runs) != 1 {
		return 0, reconciliation.Run{}, fmt.Errorf("queued runs: %d, %v", len(runs), err)
	}
	r, err := svc.Execute(ctx, runs[0].ID)
	if err != nil {
		return 0, reconciliation.Run{}, err
	}
	elapsed := time.Since(start)
	benchutil.Progress("import %s, load %s, run %s", imported.Round(time.Millisecond),
		(loaded - imported).Round(time.Millisecond), (elapsed - loaded).Round(time.Millisecond))
	return elapsed, r, nil
}

// ClassSummary lists a run's lines per class.
func ClassSummary(r reconciliation.Run) string {
	var parts []string
	for _, t := range r.Classes {
		parts = append(parts, fmt.Sprintf("%s %d", t.Class, t.Count))
	}
	return strings.Join(parts, ", ")
}

// Check verifies the run found exactly the planted discrepancies.
func (p *Plan) Check(r reconciliation.Run) error {
	got := map[matcher.Class]int64{}
	for _, t := range r.Classes {
		got[t.Class] += t.Count
	}
	for c, want := range p.Want() {
		if got[c] != want {
			return fmt.Errorf("class %s: %d lines, planted %d", c, got[c], want)
		}
	}
	return nil
}
