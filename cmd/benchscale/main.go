// Command benchscale measures civicpay with a year of data at national
// volume (issue 15): 10,000,000 paid orders over 365 business days, 60
// agencies and 400 services, with their lines, attempts, history events,
// ledger entries and postings (sealed, snapshotted, and with -verify
// checked by ledger.Verify) and order.paid webhook events, COPYed into a
// scratch database — by default on a private cluster of its own (-server),
// seeded with WAL off and restarted as the machine's server runs before
// anything is measured. civicpay and gatewaysim then run in this process on
// loopback (real HTTP), and it prints:
//
//	bench scale_<read>_p50_ms / _p99_ms <n> ms   each read below, asked for by -c clients at once for -d
//	                                             (and at least -min times: the slow ones take seconds)
//	bench scale_revenue_year_p99_ms <n> ms       the worst p99 of GET /v1/revenue over the year by service,
//	                                             and by day × service, with a treasury and an agency key
//	bench scale_asof_balance_p99_ms <n> ms       the worst of GET /v1/ledger/accounts/:code/balance?as_of=
//	                                             (a random agency's collected account, a random gateway's
//	                                             clearing account, a random time of the year)
//	bench scale_order_search_p99_ms <n> ms       the worst of: by reference (GET /v1/orders/by-reference, treasury
//	                                             and agency), by payer phone (the console's list, treasury and
//	                                             agency), by status paid and 30 days for an agency (GET /v1/orders,
//	                                             the console's list)
//	bench scale_pay_per_s_year / _empty <n> 1/s  complete payments per second (internal/testkit/paydriver)
//	                                             beside the year and on an empty database, -rounds times
//	                                             each in turn, -pay-d in all on each
//	bench scale_pay_vs_empty <ratio> ratio
//	bench scale_recon_1m_seconds <s> s           a settlement day of -recon-lines lines reconciled beside the
//	                                             year (internal/testkit/reconday), the day after it
//	bench scale_recon_1m_empty_seconds <s> s     the same day on an empty database
//	bench scale_recon_vs_empty <ratio> ratio
//	bench scale_seed_seconds <s> s               COPY of the year (sealed as ledger.Seal would), its indexes,
//	                                             statistics and visibility maps (COPY FREEZE, ANALYZE, VACUUM)
//	bench scale_seed_load_seconds, _indexes_seconds <s> s
//	                                             its phases: the loads (index builds begin beside them), and
//	                                             the index builds, ANALYZE and VACUUM after the last load
//	bench scale_seed_analyze_seconds, _vacuum_seconds <s> s
//	                                             the time spent in ANALYZE, and in VACUUM of the pages COPY
//	                                             FREEZE did not mark all-visible, each table's after its
//	                                             index builds, beside the others' (summed over connections)
//	bench scale_rollups_seed_seconds <s> s       the revenue rollups and balance checkpoints summed while seeding and
//	                                             COPYed (checked against the postings by ledger.Verify); with
//	                                             -rebuild-rollups, scale_rollups_seconds: ledger.RebuildRollups instead
//	bench scale_snapshot_seconds, scale_verify_seconds <s> s
//	                                             ledger.SnapshotBalances and (-verify) ledger.Verify over the
//	                                             year (a finding of Verify fails the run: the seeding is wrong)
//	bench scale_verify_<step>_seconds <s> s      each of Verify's steps (they run -verify-conns at once)
//	bench scale_db_size_gb <n> GB                the database on disk after seeding
//	bench scale_pgbench_tpcb_tps / _latency_ms   the yardstick: pgbench TPC-B (8 clients) on the same server
//	bench scale_<group>_p99_vs_pgbench_tpcb <ratio> ratio   p99 in TPC-B mean latencies
//	bench scale_pay_vs_pgbench_tpcb <ratio> ratio           payments/s ÷ TPC-B transactions/s
//
// and each summary's target from the issue beside it (`..._target`); it
// asserts none. BENCH_SCALE_ORDERS and BENCH_SCALE_RECON_LINES change the
// volume (develop at 200,000 orders); -yardstick 0, -pay-d 0 and
// -recon-lines 0 leave those parts out; BENCH_SCALE_KEEP=1 keeps the scratch
// databases (their names are printed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/benchstaff"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/internal/testkit/paydriver"
	"github.com/civicpay/civicpay/internal/testkit/reconday"
	"github.com/civicpay/civicpay/ledger"
)

type options struct {
	orders, reconLines   int
	readD                time.Duration
	readMin, readClients int
	payD                 time.Duration
	payC, rounds         int
	verify               bool
	verifyConns          int
	rebuildRollups       bool
	yardstick, warmup    time.Duration
	keep                 bool
	server               string
}

// The -server choices.
const (
	serverOwn        = "own"
	serverConfigured = "configured"
)

// seedSettings are the own server's settings while the year is seeded, as
// one restores a dump (PostgreSQL's "Populating a Database"): the COPYs
// into tables truncated in their transaction, and the index builds, write
// no WAL (wal_level minimal: the files are synced at commit instead), and
// checkpoints come far apart. The measurements run after a restart with
// initdb's settings (wal_level replica, max_wal_size 1GB), as the machine's
// server has them.
var seedSettings = []string{"wal_level=minimal", "max_wal_senders=0", "max_wal_size=16GB", "checkpoint_timeout=30min"}

func main() {
	o := options{}
	flag.IntVar(&o.orders, "orders", envInt("BENCH_SCALE_ORDERS", 10_000_000), "paid orders seeded over the year (BENCH_SCALE_ORDERS)")
	flag.IntVar(&o.reconLines, "recon-lines", envInt("BENCH_SCALE_RECON_LINES", 1_000_000), "lines of the reconciled settlement day (BENCH_SCALE_RECON_LINES, at least 10,000; 0: no reconciliation)")
	flag.DurationVar(&o.readD, "d", 8*time.Second, "measuring time of each read")
	flag.IntVar(&o.readMin, "min", 5, "requests of each read at least")
	flag.IntVar(&o.readClients, "c", 2, "clients asking for each read at once")
	flag.DurationVar(&o.payD, "pay-d", 40*time.Second, "measuring time of payments on each database, in all (0: no payments)")
	flag.IntVar(&o.payC, "pay-c", 96, "payments in flight at once")
	flag.IntVar(&o.rounds, "rounds", 8, "turns of the two databases in the payments' measurement")
	flag.BoolVar(&o.verify, "verify", os.Getenv("BENCH_SCALE_VERIFY") != "", "run ledger.Verify over the seeded year (BENCH_SCALE_VERIFY=1; 3 minutes at 10,000,000 orders)")
	flag.StringVar(&o.server, "server", envOr("BENCH_SCALE_SERVER", serverOwn), "where the year is seeded (BENCH_SCALE_SERVER): own, a private cluster pg.sh starts (seeded with WAL off, then restarted as the machine's server runs); configured, DATABASE_URL's server")
	flag.IntVar(&o.verifyConns, "verify-conns", ledger.DefaultVerifyConcurrency, "ledger.Verify's steps at once, each on its own connection")
	flag.BoolVar(&o.rebuildRollups, "rebuild-rollups", false, "build the rollups with ledger.RebuildRollups from the postings (scale_rollups_seconds) instead of summing them while seeding")
	flag.DurationVar(&o.yardstick, "yardstick", 10*time.Second, "pgbench TPC-B run (0: none, and no ratios to it)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured payments on each database first")
	flag.Parse()
	o.keep = os.Getenv("BENCH_SCALE_KEEP") != ""
	start := time.Now()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "benchscale:", err)
		os.Exit(1)
	}
	benchutil.Progress("done in %s", time.Since(start).Round(time.Second))
}

func envOr(name, def string) string {
	if s := os.Getenv(name); s != "" {
		return s
	}
	return def
}

func envInt(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "benchscale: %s=%q: want a positive integer\n", name, s)
			os.Exit(2)
		}
		return n
	}
	return def
}

// out collects the result lines, printed together at the end.
type out struct{ lines []func() }

func (o *out) line(name string, v float64, unit string) {
	o.lines = append(o.lines, func() { benchutil.Line(name, v, unit) })
}

func (o *out) print() {
	for _, l := range o.lines {
		l()
	}
}

const password = "bench scale password"

func run(ctx context.Context, o options) error {
	if o.reconLines != 0 && o.reconLines < 10_000 {
		return fmt.Errorf("-recon-lines %d: at least 10,000 (below, reconday's planted discrepancies fall on the same lines)", o.reconLines)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var res out

	server := db.ServerURL()
	switch o.server {
	case serverConfigured:
	case serverOwn:
		var err error
		if server, err = benchutil.ScaleServer(ctx, seedSettings...); err != nil {
			return err
		}
		// The cluster is the bench's own: what an earlier run left in it
		// (killed, or kept) would take another 44 GB of disk.
		if err := benchutil.DropScratches(ctx, server); err != nil {
			return err
		}
		if o.keep {
			defer benchutil.Progress("keeping the scale cluster running (pg.sh scale-stop stops it)")
		} else {
			defer func() {
				if err := benchutil.StopScaleServer(context.Background()); err != nil {
					benchutil.Progress("stopping the scale cluster: %v", err)
				}
			}()
		}
	default:
		return fmt.Errorf("-server %q: want %s or %s", o.server, serverOwn, serverConfigured)
	}
	// 16 connections: what suits the payments on two cores (cmd/benchpay).
	year, err := benchutil.NewScratchOn(ctx, server, "scale", 16)
	if err != nil {
		return err
	}
	if o.keep {
		benchutil.Progress("keeping database %s", year.Name)
	} else {
		defer year.Drop()
	}
	sys := audit.System(ctx, "benchscale")
	portal, _, err := auth.NewStore(year.Pool).Create(sys, auth.RolePortal, "", "year portal")
	if err != nil {
		return err
	}
	w := newWorld(o.orders, time.Now(), portal.ID)
	if err := seedCatalogue(ctx, year.Pool, w); err != nil {
		return err
	}
	benchutil.Progress("seeding %d paid orders over %s – %s", w.n, w.start.Format(time.DateOnly), w.end.AddDate(0, 0, -1).Format(time.DateOnly))
	start := time.Now()
	ph, err := seedYear(ctx, year.Pool, w)
	if err != nil {
		return err
	}
	seeded := time.Since(start)
	benchutil.Progress("seeded in %s", seeded.Round(time.Second))
	res.line("scale_orders", float64(w.n), "count")
	res.line("scale_seed_seconds", round(seeded.Seconds(), 1), "s")
	res.line("scale_seed_load_seconds", round(ph.load.Seconds(), 1), "s")
	res.line("scale_seed_indexes_seconds", round(ph.indexes.Seconds(), 1), "s")
	res.line("scale_seed_analyze_seconds", round(ph.analyze.Seconds(), 1), "s")
	res.line("scale_seed_vacuum_seconds", round(ph.vacuum.Seconds(), 1), "s")
	if err := checkLedger(ctx, o, w, year.Pool, &res); err != nil {
		return err
	}
	if _, err := year.Pool.Exec(ctx, "CHECKPOINT"); err != nil {
		benchutil.Progress("no checkpoint after seeding: %v", err)
	}
	if o.server == serverOwn {
		restart := time.Now()
		year.Pool.Close()
		if server, err = benchutil.ScaleServer(ctx); err != nil {
			return err
		}
		if err := year.Reopen(ctx, server); err != nil {
			return err
		}
		benchutil.Progress("restarted the scale cluster for the measurements in %s", time.Since(restart).Round(time.Millisecond))
	}
	size, err := databaseSize(ctx, year.Pool)
	if err != nil {
		return err
	}
	res.line("scale_db_size_gb", round(float64(size)/(1<<30), 2), "GB")

	var y benchutil.TPCB
	if o.yardstick > 0 {
		benchutil.Progress("yardstick: pgbench TPC-B, 8 clients, %s, on the same server", o.yardstick)
		if y, err = benchutil.PgbenchTPCB(ctx, year, 8, o.yardstick); err != nil {
			return fmt.Errorf("yardstick: %w", err)
		}
	}

	var empty *benchutil.Scratch
	if o.payD > 0 || o.reconLines > 0 {
		if empty, err = benchutil.NewScratchOn(ctx, server, "scale_empty", 16); err != nil {
			return err
		}
		if o.keep {
			benchutil.Progress("keeping database %s", empty.Name)
		} else {
			defer empty.Drop()
		}
	}
	// The slowest reads of a year take longer than the service's request
	// deadline (60 s): measured, rather than cut off.
	dy, err := paydriver.Start(ctx, year, paydriver.Options{Configure: func(c *config.Config) {
		c.Limits.RequestTimeout = 10 * time.Minute
	}})
	if err != nil {
		return err
	}
	defer dy.Close()
	if err := reads(sys, o, w, dy, y, &res); err != nil {
		return err
	}
	if o.payD > 0 {
		de, err := paydriver.Start(ctx, empty, paydriver.Options{})
		if err != nil {
			return err
		}
		defer de.Close()
		if err := pay(ctx, o, dy, de, y, &res); err != nil {
			return err
		}
		de.Close()
	}
	// civicpay's River workers would take the reconciliation's jobs: stop it first.
	dy.Close()
	if o.reconLines > 0 {
		if err := recon(ctx, o, w, empty, year, &res); err != nil {
			return err
		}
	}
	if y.TPS > 0 {
		res.line("scale_pgbench_tpcb_tps", round(y.TPS, 1), "1/s")
		res.line("scale_pgbench_tpcb_latency_ms", round(y.LatencyMS, 3), "ms")
	}
	res.print()
	return nil
}

// checkLedger snapshots the balances as the job would, checks that the
// seeding left nothing to seal, and (with -verify) runs ledger.Verify: a
// finding fails the run, the seeding being wrong.
func checkLedger(ctx context.Context, o options, w *world, pool *pgxpool.Pool, res *out) error {
	start := time.Now()
	if o.rebuildRollups {
		rolled, err := ledger.RebuildRollups(audit.System(ctx, "benchscale"), pool, func(p ledger.RebuildProgress) {
			benchutil.Progress("rollups: %+v", p)
		})
		if err != nil {
			return err
		}
		benchutil.Progress("revenue rollups and balance checkpoints built in %s (%+v)", time.Since(start).Round(time.Millisecond), rolled)
		res.line("scale_rollups_seconds", round(time.Since(start).Seconds(), 2), "s")
	} else {
		if err := seedRollups(ctx, pool, w); err != nil {
			return err
		}
		benchutil.Progress("revenue rollups and balance checkpoints seeded in %s", time.Since(start).Round(time.Millisecond))
		res.line("scale_rollups_seed_seconds", round(time.Since(start).Seconds(), 2), "s")
	}
	start = time.Now()
	snapped, err := ledger.SnapshotBalances(ctx, pool)
	if err != nil {
		return err
	}
	snapTime := time.Since(start)
	benchutil.Progress("snapshotted %d accounts in %s", snapped, snapTime.Round(time.Millisecond))
	res.line("scale_snapshot_seconds", round(snapTime.Seconds(), 2), "s")
	sealed, err := ledger.Seal(ctx, pool)
	if err != nil {
		return err
	}
	if sealed.Entries > 0 {
		return fmt.Errorf("ledger.Seal sealed %d entries after the seeding: the seeded chain is incomplete", sealed.Entries)
	}
	benchutil.Progress("seal chain head: batch %d %s", sealed.HeadBatch, sealed.HeadHash)
	if !o.verify {
		return nil
	}
	start = time.Now()
	report, err := ledger.VerifyWith(ctx, pool, ledger.VerifyOptions{Concurrency: o.verifyConns})
	for _, f := range report.Findings {
		benchutil.Progress("ledger verify: %s", f)
	}
	if err != nil {
		return fmt.Errorf("the seeded ledger: %w", err)
	}
	if report.Entries != int64(w.n) || report.SealedEntries != report.Entries {
		return fmt.Errorf("the seeded ledger: %d entries, %d sealed; seeded %d", report.Entries, report.SealedEntries, w.n)
	}
	took := time.Since(start)
	benchutil.Progress("verified %d entries, %d postings, %d accounts, %d seal batches in %s", report.Entries, report.Postings,
		report.Accounts, report.SealedBatches, took.Round(time.Millisecond))
	res.line("scale_verify_seconds", round(took.Seconds(), 1), "s")
	for _, s := range report.Steps {
		benchutil.Progress("  verify %-20s %s", s.Name, s.Duration.Round(time.Millisecond))
		res.line("scale_verify_"+strings.ReplaceAll(s.Name, " ", "_")+"_seconds", round(s.Duration.Seconds(), 1), "s")
	}
	return checkAttemptKeys(ctx, pool)
}

// checkAttemptKeys checks that the seeding wrote each attempt's key row (its
// insert trigger was off) as the trigger would have.
func checkAttemptKeys(ctx context.Context, pool *pgxpool.Pool) error {
	var bad int64
	err := pool.QueryRow(ctx, `SELECT count(*) FROM payment_attempts a FULL JOIN payment_attempt_keys k ON k.id = a.id
		WHERE a.id IS NULL OR k.id IS NULL OR (a.order_id, a.gateway, a.gateway_ref, a.created_at, a.status) IS DISTINCT FROM
			(k.order_id, k.gateway, k.gateway_ref, k.created_at, k.status)
			OR a.outcome IS DISTINCT FROM k.outcome OR a.gateway_txn_id IS DISTINCT FROM k.gateway_txn_id`).Scan(&bad)
	if err != nil {
		return fmt.Errorf("check attempt keys: %w", err)
	}
	if bad != 0 {
		return fmt.Errorf("the seeded attempts: %d without a matching payment_attempt_keys row", bad)
	}
	return nil
}

// reads measures each read scenario beside the year, through dy's app.
func reads(ctx context.Context, o options, w *world, dy *paydriver.Driver, y benchutil.TPCB, res *out) error {
	rd, err := newReaders(ctx, dy.Pool, dy, w, 0, o.readClients+1)
	if err != nil {
		return err
	}
	worst := map[string]float64{}
	for _, sc := range scenarios(w, rd) {
		lat, err := measure(sc, 0, 1, 1) // one unmeasured, to warm what it reads
		if err == nil {
			lat, err = measure(sc, o.readD, o.readMin, o.readClients)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		p50, p99 := benchutil.Percentile(lat, 50), benchutil.Percentile(lat, 99)
		benchutil.Progress("%-42s %6d requests  p50 %9.1f ms  p99 %9.1f ms  (load average %s)", sc.name, len(lat), p50, p99, loadAverage())
		res.line("scale_"+sc.name+"_p50_ms", p50, "ms")
		res.line("scale_"+sc.name+"_p99_ms", p99, "ms")
		worst[sc.group] = max(worst[sc.group], p99)
	}
	for _, g := range []string{groupRevenue, groupAsOf, groupSearch} {
		res.line("scale_"+g+"_p99_ms", worst[g], "ms")
		res.line("scale_"+g+"_p99_ms_target", targets[g], "ms")
		if y.LatencyMS > 0 {
			res.line("scale_"+g+"_p99_vs_pgbench_tpcb", round(worst[g]/y.LatencyMS, 1), "ratio")
		}
	}
	return nil
}

// pay measures complete payments beside the year (dy) and on the empty
// database (de), in turns: -rounds turns of -pay-d/-rounds each, who goes
// first alternating, so that the machine's neighbours weigh on both alike.
func pay(ctx context.Context, o options, dy, de *paydriver.Driver, y benchutil.TPCB, res *out) error {
	sides := []struct {
		name        string
		d           *paydriver.Driver
		tried, done int
		elapsed     time.Duration
	}{{name: "year", d: dy}, {name: "empty", d: de}}
	for k := range sides {
		benchutil.Progress("warming up payments (%s, %s)", sides[k].name, o.warmup)
		if _, _, _, err := sides[k].d.Load(ctx, o.warmup, o.payC, paydriver.Mixed); err != nil {
			return err
		}
	}
	d := o.payD / time.Duration(o.rounds)
	// Each round's own ratio (year ÷ empty): their spread shows how much
	// of the ratio is the machine's noise.
	perRound := make([][2]float64, o.rounds)
	for r := range o.rounds {
		for j := range sides {
			k := (j + r) % len(sides)
			before := walNow(ctx, sides[k].d.Pool)
			tried, done, elapsed, err := sides[k].d.Load(ctx, d, o.payC, paydriver.Mixed)
			if err != nil {
				return err
			}
			benchutil.Progress("payments %-5s round %d: %d of %d complete in %s: %.0f/s (load average %s; %s)", sides[k].name, r+1,
				done, tried, elapsed.Round(time.Millisecond), float64(done)/elapsed.Seconds(), loadAverage(),
				walNow(ctx, sides[k].d.Pool).since(before, done))
			sides[k].tried += tried
			sides[k].done += done
			sides[k].elapsed += elapsed
			perRound[r][k] = float64(done) / elapsed.Seconds()
		}
	}
	ratios := make([]float64, 0, len(perRound))
	for _, pr := range perRound {
		ratios = append(ratios, pr[0]/pr[1])
	}
	perS := func(k int) float64 { return float64(sides[k].done) / sides[k].elapsed.Seconds() }
	res.line("scale_pay_per_s_year", math.Round(perS(0)), "1/s")
	res.line("scale_pay_per_s_empty", math.Round(perS(1)), "1/s")
	res.line("scale_pay_incomplete", float64(sides[0].tried-sides[0].done+sides[1].tried-sides[1].done), "count")
	res.line("scale_pay_vs_empty", round(perS(0)/perS(1), 3), "ratio")
	res.line("scale_pay_vs_empty_target", 0.9, "ratio")
	res.line("scale_pay_vs_empty_round_min", round(slices.Min(ratios), 3), "ratio")
	res.line("scale_pay_vs_empty_round_max", round(slices.Max(ratios), 3), "ratio")
	if y.TPS > 0 {
		res.line("scale_pay_vs_pgbench_tpcb", round(perS(0)/y.TPS, 3), "ratio")
	}
	return nil
}

// walStats are the server's WAL counters (pg_stat_wal: the whole server,
// as flushed by its backends, within a second or so).
type walStats struct {
	fpi, bytes int64
	err        error
}

func walNow(ctx context.Context, pool *pgxpool.Pool) walStats {
	var w walStats
	w.err = pool.QueryRow(ctx, `SELECT wal_fpi, wal_bytes::bigint FROM pg_stat_wal`).Scan(&w.fpi, &w.bytes)
	return w
}

// since says the full-page images and the WAL written per payment since
// before: a round that a checkpoint began in writes each page it touches
// whole the first time after it, and the year's large indexes have many
// more pages to touch than the empty database's.
func (w walStats) since(before walStats, payments int) string {
	if w.err != nil || before.err != nil || payments == 0 {
		return fmt.Sprintf("no WAL counters: %v", errors.Join(w.err, before.err))
	}
	n := float64(payments)
	return fmt.Sprintf("%.2f full-page images and %.1f kB of WAL a payment", float64(w.fpi-before.fpi)/n,
		float64(w.bytes-before.bytes)/n/1024)
}

// recon reconciles the day after the year on the empty database first,
// then beside the year: the same plan, the same file.
func recon(ctx context.Context, o options, w *world, empty, year *benchutil.Scratch, res *out) error {
	plan := reconday.NewPlan(o.reconLines, w.reconDay())
	dir, err := os.MkdirTemp("", "benchscale")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := dir + "/settlement.csv"
	info, err := plan.WriteFile(path)
	if err != nil {
		return err
	}
	benchutil.Progress("settlement file of %s: %d lines, %d MB (%s)", w.reconDay().Format(time.DateOnly), info.Lines, info.Size>>20, plan.Summary())
	// The day's orders and attempts, into both databases at once (the
	// reconciliations below run one after the other).
	dbs := []*benchutil.Scratch{empty, year}
	var wg sync.WaitGroup
	errs := make([]error, len(dbs))
	for k, s := range dbs {
		wg.Go(func() {
			start := time.Now()
			if errs[k] = plan.Seed(ctx, s.Pool); errs[k] == nil {
				benchutil.Progress("seeded %d attempts of the day in %s (%s)", plan.Attempts(), time.Since(start).Round(time.Second), s.Name)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var took [2]time.Duration
	for k, s := range dbs {
		svc, err := plan.NewService(s.URL, s.Pool, stageLog())
		if err != nil {
			return err
		}
		elapsed, r, err := reconday.Reconcile(ctx, svc, path, "")
		if err != nil {
			return err
		}
		benchutil.Progress("reconciled in %s (%s): %s", elapsed.Round(time.Millisecond), s.Name, reconday.ClassSummary(r))
		if err := plan.Check(r); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		took[k] = elapsed
	}
	res.line("scale_recon_1m_seconds", round(took[1].Seconds(), 2), "s")
	res.line("scale_recon_1m_empty_seconds", round(took[0].Seconds(), 2), "s")
	res.line("scale_recon_vs_empty", round(took[1].Seconds()/took[0].Seconds(), 3), "ratio")
	res.line("scale_recon_vs_empty_target", 1.2, "ratio")
	res.line("scale_recon_lines", float64(info.Lines), "count")
	return nil
}

// newReaders makes the treasury's and agency agencyIdx's API keys and
// staff users on the year's database, and signs the staff in.
func newReaders(ctx context.Context, pool *pgxpool.Pool, d *paydriver.Driver, w *world, agencyIdx, conns int) (readers, error) {
	r := readers{agencyIdx: agencyIdx}
	agency := w.agencies[agencyIdx].code
	keys := auth.NewStore(pool)
	hc := &fasthttp.Client{MaxConnsPerHost: conns, ReadTimeout: 10 * time.Minute, MaxResponseBodySize: 1 << 30}
	_, tKey, err := keys.Create(ctx, auth.RoleTreasury, "", "bench treasury")
	if err != nil {
		return r, err
	}
	_, aKey, err := keys.Create(ctx, auth.RoleAgency, agency, "bench agency")
	if err != nil {
		return r, err
	}
	r.treasury, r.agency = apiKey{base: d.AppURL, key: tKey, hc: hc}, apiKey{base: d.AppURL, key: aKey, hc: hc}
	users := console.NewStore(pool, d.App.DataKeys, nil, console.Policy{})
	_, tSecret, err := users.DemoUser(ctx, console.NewUser{Email: "treasury@bench.gov.vn", Role: console.RoleTreasury}, password)
	if err != nil {
		return r, err
	}
	_, aSecret, err := users.DemoUser(ctx, console.NewUser{Email: "agency@bench.gov.vn", Role: console.RoleAgency, AgencyCode: agency}, password)
	if err != nil {
		return r, err
	}
	t, err := benchstaff.SignIn(d.AppURL, "treasury@bench.gov.vn", password, tSecret, conns)
	if err != nil {
		return r, err
	}
	a, err := benchstaff.SignIn(d.AppURL, "agency@bench.gov.vn", password, aSecret, conns)
	if err != nil {
		return r, err
	}
	r.treasuryStaff, r.agencyStaff = staff{t}, staff{a}
	return r, nil
}

// databaseSize is the database's size on disk, with a progress line of
// its largest tables.
func databaseSize(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var size int64
	if err := pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		return 0, err
	}
	rows, err := pool.Query(ctx, `SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 8`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var name string
		var table, indexes int64
		if err := rows.Scan(&name, &table, &indexes); err != nil {
			return 0, err
		}
		parts = append(parts, fmt.Sprintf("%s %d+%d MB", name, table>>20, indexes>>20))
	}
	benchutil.Progress("database %d MB; tables + indexes: %s", size>>20, strings.Join(parts, ", "))
	return size, rows.Err()
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

// quietLog is the reconciliation's log: errors only.
// stageLog prints the reconciliation's stage times (and its errors): where a
// day reconciled beside the year spends the time the empty database does not.
func stageLog() *slog.Logger {
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	return slog.New(stageOnly{h})
}

// stageOnly passes on errors and the "stage done" lines.
type stageOnly struct{ slog.Handler }

func (h stageOnly) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && r.Message != "reconciliation run stage done" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h stageOnly) WithAttrs(as []slog.Attr) slog.Handler { return stageOnly{h.Handler.WithAttrs(as)} }
func (h stageOnly) WithGroup(g string) slog.Handler       { return stageOnly{h.Handler.WithGroup(g)} }

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func round(v float64, places int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', places, 64), 64)
	return f
}
