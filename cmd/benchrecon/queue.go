package main

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"slices"
	"time"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/testkit/benchstaff"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
)

// queueBench measures the treasury's exception queue page in the console
// with open exceptions open exceptions beside the reconciled day: p50 and
// p99 of its default view, of a class and age-bucket filter, and of the
// next page, each from 4 signed-in clients for d, beside the mean latency of
// pgbench TPC-B in the same run.
func queueBench(ctx context.Context, s *benchutil.Scratch, open int, d time.Duration) error {
	benchutil.Progress("seeding %d open exceptions over 60 business days", open)
	if _, err := s.Pool.Exec(ctx, `
		WITH r AS (SELECT max(id) AS id FROM recon_runs)
		INSERT INTO recon_exceptions (key, source, business_date, class, first_run_id, last_run_id, reference,
			amount_there, currency, detail)
		SELECT 'bench-queue-' || g, (ARRAY['vnpay', 'momo', 'zalopay', 'bank'])[1 + g % 4],
			current_date - (g % 60), (ARRAY['missing_here', 'missing_there', 'amount_mismatch', 'duplicate', 'unknown'])[1 + g % 5],
			r.id, r.id, 'REF' || g, 1000 + g % 100000, 'VND', 'seeded by benchrecon'
		FROM r, generate_series(1, $1) g`, open); err != nil {
		return fmt.Errorf("seed exceptions: %w", err)
	}
	if _, err := s.Pool.Exec(ctx, `ANALYZE recon_exceptions`); err != nil {
		return err
	}

	a, cfg, stop, err := benchutil.StartApp(ctx, s, nil)
	if err != nil {
		return err
	}
	defer stop()

	const password = "correct horse battery staple"
	users := console.NewStore(s.Pool, a.DataKeys, nil, console.Policy{})
	_, secret, err := users.DemoUser(audit.System(ctx, "benchrecon"),
		console.NewUser{Email: "treasury@bench.gov.vn", Role: console.RoleTreasury}, password)
	if err != nil {
		return err
	}
	staff, err := benchstaff.SignIn(cfg.PublicURL, "treasury@bench.gov.vn", password, secret, 5)
	if err != nil {
		return err
	}
	// The default view's next page, as its link gives it.
	_, first, err := staff.Page("/console/reconciliation/exceptions", `id="exceptions"`)
	if err != nil {
		return err
	}
	next := nextLink(first)

	y, err := benchutil.PgbenchTPCB(ctx, s, 8, 5*time.Second)
	if err != nil {
		return fmt.Errorf("yardstick: %w", err)
	}
	pages := []struct{ name, path string }{
		{"default", "/console/reconciliation/exceptions"},
		{"filtered", "/console/reconciliation/exceptions?class=missing_here&age=8-30"},
	}
	if next != "" {
		pages = append(pages, struct{ name, path string }{"next", next})
	}
	worst := 0.0
	for _, p := range pages {
		benchutil.Progress("the queue, %s view (%s, 4 clients)", p.name, d)
		lat, errs, _ := benchutil.Load(d, 4, func() (time.Duration, error) {
			l, _, err := staff.Page(p.path, `id="exceptions"`)
			return l, err
		})
		if errs > 0 || len(lat) == 0 {
			return fmt.Errorf("the queue's %s view: %d requests failed of %d", p.name, errs, errs+len(lat))
		}
		slices.Sort(lat)
		p99 := benchutil.Percentile(lat, 99)
		worst = max(worst, p99)
		benchutil.Line("recon_queue_"+p.name+"_p50_ms", benchutil.Percentile(lat, 50), "ms")
		benchutil.Line("recon_queue_"+p.name+"_p99_ms", p99, "ms")
	}
	benchutil.Line("recon_queue_open_exceptions", float64(open), "count")
	benchutil.Line("recon_queue_p99_ms", worst, "ms")
	benchutil.Line("recon_queue_p99_target_ms", 200, "ms")
	benchutil.Line("recon_queue_pgbench_tpcb_latency_ms", y.LatencyMS, "ms")
	benchutil.Line("recon_queue_p99_vs_pgbench_tpcb", round(worst/y.LatencyMS, 1), "ratio")
	return nil
}

// nextLink is the queue page's "next page" link, or "".
func nextLink(page []byte) string {
	m := nextRE.FindSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(string(m[1]))
}

var nextRE = regexp.MustCompile(`<a href="([^"]+)" id="next" rel="next">`)
