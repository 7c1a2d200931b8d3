// Command benchconsole measures the staff console's pages with 1,000,000
// orders in the database: a year of orders of six agencies (three services
// each; one order in ten with a second line of another agency), with their
// lines, attempts and history events, COPYed into a scratch database. The
// whole app runs in this process on loopback (real HTTP); a treasury and an
// agency user (STP-HCM) sign in through the pages with password and TOTP, and
// each page is asked for by -c clients at once for -d:
//
//	list_first                    payments list, first page, no filter (treasury)
//	list_first_agency             the same for the agency user (its orders only)
//	list_reference[_agency]       filtered by a reference typed in lower case with spaces
//	list_phone[_agency]           filtered by a payer's phone
//	list_status_month_agency      status paid, a 30-day date range, agency user
//	list_next                     the keyset "next page" from a random point of the year (treasury)
//	list_next_status_month_agency the next page of the status and date filter, agency user
//	order_page[_agency]           an order's page (lines, attempts, history)
//	dashboard[_agency]            the dashboard: revenue from the ledger, which this
//	                              bench leaves empty, and the counts of 30 days' orders
//
// Each prints
//
//	bench console_<page>_p50_ms <n> ms
//	bench console_<page>_p99_ms <n> ms
//	bench console_<page>_p99_vs_pgbench_tpcb <ratio> ratio   p99 in TPC-B mean latencies
//
// then the CSV export of the last full calendar month by the agency user,
// -exports times one after the other (after one run not counted):
//
//	bench console_export_month_agency_rows <n> count
//	bench console_export_month_agency_ttfb_ms <n> ms          median time to the first byte
//	bench console_export_month_agency_total_ms <n> ms         median time to the last byte
//	bench console_export_month_agency_total_vs_pgbench_tpcb <ratio> ratio
//
// and the yardstick, pgbench's TPC-B on the same server (8 clients), with
// the worst page:
//
//	bench console_pgbench_tpcb_tps <n> 1/s
//	bench console_pgbench_tpcb_latency_ms <n> ms
//	bench console_pages_p99_max_ms <n> ms
//	bench console_pages_p99_over_150ms <n> count             pages whose p99 misses the target
//	bench console_seed_seconds <s> s
//
// BENCH_CONSOLE_KEEP=1 keeps the scratch database (its name is printed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/testkit/benchstaff"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/payments"
)

type options struct {
	orders, clients, exports int
	duration, warmup         time.Duration
	yardstick                time.Duration
}

func main() {
	o := options{}
	flag.IntVar(&o.orders, "orders", 1_000_000, "orders seeded")
	flag.IntVar(&o.clients, "c", 4, "clients asking for each page at once")
	flag.DurationVar(&o.duration, "d", 8*time.Second, "measuring time of each page")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time of each page before it")
	flag.IntVar(&o.exports, "exports", 5, "CSV exports timed")
	flag.DurationVar(&o.yardstick, "yardstick", 10*time.Second, "pgbench TPC-B run")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "benchconsole:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) { benchutil.Progress(format, args...) }

const (
	password   = "bench console password"
	agencyUser = 0 // index in agencies of the agency user's agency
	target     = 150.0
)

func run(ctx context.Context, o options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := benchutil.NewScratch(ctx, "console", 40)
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_CONSOLE_KEEP") == "" {
		defer s.Drop()
	} else {
		progress("keeping database %s", s.Name)
	}

	w := newWorld(o.orders, time.Now())
	start := time.Now()
	if err := seedCatalogue(ctx, s.Pool); err != nil {
		return err
	}
	if err := seedOrders(ctx, s.Pool, w); err != nil {
		return err
	}
	seeded := time.Since(start)
	progress("seeded %d orders in %s", o.orders, seeded.Round(time.Second))

	progress("yardstick: pgbench TPC-B, 8 clients, %s, on the same server", o.yardstick)
	y, err := benchutil.PgbenchTPCB(ctx, s, 8, o.yardstick)
	if err != nil {
		return fmt.Errorf("yardstick: %w", err)
	}

	a, cfg, stopApp, err := benchutil.StartApp(ctx, s, nil)
	if err != nil {
		return err
	}
	defer stopApp()

	users := console.NewStore(s.Pool, a.DataKeys, nil, console.Policy{})
	sysCtx := audit.System(ctx, "benchconsole")
	_, tSecret, err := users.DemoUser(sysCtx, console.NewUser{Email: "treasury@bench.gov.vn", Role: console.RoleTreasury}, password)
	if err != nil {
		return err
	}
	agency := agencies[agencyUser].code
	_, aSecret, err := users.DemoUser(sysCtx, console.NewUser{Email: "agency@bench.gov.vn", Role: console.RoleAgency, AgencyCode: agency}, password)
	if err != nil {
		return err
	}
	treasury, err := benchstaff.SignIn(cfg.PublicURL, "treasury@bench.gov.vn", password, tSecret, o.clients+1)
	if err != nil {
		return err
	}
	agent, err := benchstaff.SignIn(cfg.PublicURL, "agency@bench.gov.vn", password, aSecret, o.clients+1)
	if err != nil {
		return err
	}

	type result struct {
		name     string
		p50, p99 float64
	}
	var results []result
	for _, sc := range scenarios(w, treasury, agent) {
		if o.warmup > 0 {
			if _, err := measure(sc, o.warmup, o.clients); err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
		}
		lat, err := measure(sc, o.duration, o.clients)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		r := result{name: sc.name, p50: benchutil.Percentile(lat, 50), p99: benchutil.Percentile(lat, 99)}
		progress("%-30s %5d requests  p50 %7.1f ms  p99 %7.1f ms  (load average %s)", sc.name, len(lat), r.p50, r.p99, loadAverage())
		results = append(results, r)
	}

	// The export of the last full calendar month (GMT+7), by the agency user.
	endDay := w.end.In(bizday.Zone)
	first := time.Date(endDay.Year(), endDay.Month()-1, 1, 0, 0, 0, 0, bizday.Zone)
	last := first.AddDate(0, 1, -1)
	exportPath := "/console/payments/export.csv?" + url.Values{"from": {first.Format(time.DateOnly)}, "to": {last.Format(time.DateOnly)}}.Encode()
	var ttfbs, totals []time.Duration
	rows := 0
	for k := range o.exports + 1 {
		ttfb, total, lines, err := agent.Download(exportPath)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		progress("export %s – %s (%s): %d lines, first byte %s, last %s", first.Format(time.DateOnly), last.Format(time.DateOnly),
			agency, lines, ttfb.Round(time.Millisecond), total.Round(time.Millisecond))
		if k == 0 {
			continue // warms the month's pages into the cache
		}
		ttfbs, totals, rows = append(ttfbs, ttfb), append(totals, total), lines-1 // less the header
	}

	ratio := func(ms float64) float64 { return round(ms/y.LatencyMS, 1) }
	worst, over := 0.0, 0
	for _, r := range results {
		benchutil.Line("console_"+r.name+"_p50_ms", r.p50, "ms")
		benchutil.Line("console_"+r.name+"_p99_ms", r.p99, "ms")
		benchutil.Line("console_"+r.name+"_p99_vs_pgbench_tpcb", ratio(r.p99), "ratio")
		worst = max(worst, r.p99)
		if r.p99 > target {
			over++
		}
	}
	if len(totals) > 0 {
		benchutil.Line("console_export_month_agency_rows", float64(rows), "count")
		benchutil.Line("console_export_month_agency_ttfb_ms", benchutil.Percentile(ttfbs, 50), "ms")
		benchutil.Line("console_export_month_agency_total_ms", benchutil.Percentile(totals, 50), "ms")
		benchutil.Line("console_export_month_agency_total_vs_pgbench_tpcb", ratio(benchutil.Percentile(totals, 50)), "ratio")
	}
	benchutil.Line("console_pgbench_tpcb_tps", round(y.TPS, 1), "1/s")
	benchutil.Line("console_pgbench_tpcb_latency_ms", round(y.LatencyMS, 3), "ms")
	benchutil.Line("console_pages_p99_max_ms", worst, "ms")
	benchutil.Line("console_pages_p99_over_150ms", float64(over), "count")
	benchutil.Line("console_seed_seconds", round(seeded.Seconds(), 1), "s")
	return nil
}

// scenario is a page asked for again and again: next returns the path of
// one request and a text the page must contain.
type scenario struct {
	name string
	who  *benchstaff.Staff
	next func() (path, want string)
}

func scenarios(w *world, treasury, agent *benchstaff.Staff) []scenario {
	anyOrder := func() int { return rand.IntN(w.n) }
	// ofAgency picks an order whose first line is the agency user's.
	ofAgency := func() int {
		for {
			if i := anyOrder(); w.order(i).agency == agencyUser {
				return i
			}
		}
	}
	byRef := func(pick func() int) func() (string, string) {
		return func() (string, string) {
			ref := w.reference(pick())
			return "/console/payments?" + url.Values{"reference": {typed(ref)}}.Encode(), ref
		}
	}
	byPhone := func(pick func() int) func() (string, string) {
		return func() (string, string) {
			p := phone(pick())
			return "/console/payments?" + url.Values{"phone": {p[:4] + " " + p[4:7] + " " + p[7:]}}.Encode(), p
		}
	}
	orderPage := func(pick func() int) func() (string, string) {
		return func() (string, string) {
			i := pick()
			return "/console/payments/" + w.orderID(i).String(), w.reference(i)
		}
	}
	// month is a random 30-day range of business days inside the year,
	// and an order created in it at least two days after its start.
	month := func() (url.Values, int) {
		days := int(w.end.Sub(w.start).Hours()/24) - 32
		from := bizday.Start(w.start).AddDate(0, 0, 1+rand.IntN(days))
		to := from.AddDate(0, 0, 29)
		lo, hi := w.index(from.AddDate(0, 0, 2)), w.index(to.AddDate(0, 0, 1))
		return url.Values{"status": {"paid"}, "from": {from.In(bizday.Zone).Format(time.DateOnly)},
			"to": {to.In(bizday.Zone).Format(time.DateOnly)}}, lo + rand.IntN(hi-lo)
	}
	cursor := func(i int) string {
		return payments.Cursor{CreatedAt: w.createdAt(i), ID: w.orderID(i)}.Encode()
	}
	const table = `id="orders"`
	return []scenario{
		{"list_first", treasury, func() (string, string) { return "/console/payments", table }},
		{"list_first_agency", agent, func() (string, string) { return "/console/payments", table }},
		{"list_reference", treasury, byRef(anyOrder)},
		{"list_reference_agency", agent, byRef(ofAgency)},
		{"list_phone", treasury, byPhone(anyOrder)},
		{"list_phone_agency", agent, byPhone(ofAgency)},
		{"list_status_month_agency", agent, func() (string, string) {
			q, _ := month()
			return "/console/payments?" + q.Encode(), table
		}},
		{"list_next", treasury, func() (string, string) {
			return "/console/payments?" + url.Values{"cursor": {cursor(anyOrder())}}.Encode(), table
		}},
		{"list_next_status_month_agency", agent, func() (string, string) {
			q, i := month()
			q.Set("cursor", cursor(i))
			return "/console/payments?" + q.Encode(), table
		}},
		{"order_page", treasury, orderPage(anyOrder)},
		{"order_page_agency", agent, orderPage(ofAgency)},
		{"dashboard", treasury, func() (string, string) { return "/console", "" }},
		{"dashboard_agency", agent, func() (string, string) { return "/console", "" }},
	}
}

// index is the number of the first order created at or after t.
func (w *world) index(t time.Time) int {
	i := int((t.Sub(w.start) + w.step - 1) / w.step)
	return min(max(i, 0), w.n)
}

// measure asks for sc's pages from clients goroutines for d; any failed
// request fails the measurement.
func measure(sc scenario, d time.Duration, clients int) ([]time.Duration, error) {
	var once sync.Once
	var first error
	lat, errs, _ := benchutil.Load(d, clients, func() (time.Duration, error) {
		path, want := sc.next()
		l, _, err := sc.who.Page(path, want)
		if err != nil {
			once.Do(func() { first = err })
		}
		return l, err
	})
	if errs > 0 {
		return nil, fmt.Errorf("%d of %d requests failed, the first: %w", errs, errs+len(lat), first)
	}
	if len(lat) == 0 {
		return nil, errors.New("no request finished")
	}
	slices.Sort(lat)
	return lat, nil
}

// loadAverage is the machine's one-minute load average, for the progress
// lines: the machine may be shared, and a tail latency read beside it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func round(v float64, places int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', places, 64), 64)
	return f
}
