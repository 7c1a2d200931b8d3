// Command benchchaos is the fault suite (`make bench BENCH=chaos`): it
// starts its own database, gatewaysim and civicpay processes, breaks them
// under load and checks that no payment was lost or made twice.
//
// It builds civicpay and gatewaysim, creates a database on the server of
// DATABASE_URL (migrated with `civicpay migrate`, seeded with `civicpay
// demo`, dropped at the end), and runs civicpay as `make run` does
// (development mode, the simulator's merchant), behind a small balancer for
// the gateways' callbacks. Each scenario keeps ~50 payments in flight
// (clients creating orders with an Idempotency-Key, starting an attempt,
// paying it at the simulated gateway, whose callback completes it) while:
//
//	kill9         civicpay is killed -9 while its attempt-follow sweep runs, restarted 8 s later (callbacks outlive their retries: status jobs must record them)
//	twoinstances  two instances, the client round-robin over both; one killed -9 (restarted 8 s later)
//	dbbackends    every database backend of the service terminated, twice, 3 s apart
//	gatewaysdown  the gateways answer every API call 503 for 5 s (gatewaysim's fault injection)
//	sigterm       SIGTERM while the gateways take 3–4 s a call, then a restart
//	idemburst     1,000 requests at once creating one order with one Idempotency-Key
//
// then waits (bounded) for confirmed payments to be recorded — callbacks,
// status jobs — and checks the clients' records, the database and the
// simulator against each other (see evaluate). Per scenario it prints
//
//	bench chaos_<s>_lost <n> count                    confirmed at the gateway but not paid; answered 2xx but missing; paid without its ledger entry or order.paid event
//	bench chaos_<s>_doubled <n> count                 orders paid more than once: two paying attempts, ledger entries or order.paid events; two orders for one key
//	bench chaos_<s>_client_5xx <n> count              5xx answers other than those the fault makes expected (503 while the gateways or the database are gone)
//	bench chaos_<s>_recovery_ms <n> ms                the fault's end → the first payment started after it completed (-1: none within the window)
//	bench chaos_<s>_recovery_all_gateways_ms <n> ms   … → such a payment completed on every gateway (VNPAY, MoMo, ZaloPay)
//	bench chaos_<s>_recovery_vs_pgbench_tpcb <r> ratio  recovery_ms over the mean latency of pgbench's TPC-B transaction
//
// and, once for the run, the yardstick measured on the same server before
// the scenarios and the ledger's verdict:
//
//	bench chaos_pgbench_tpcb_tps <n> 1/s
//	bench chaos_pgbench_tpcb_latency_ms <n> ms
//	bench chaos_ledger_verify_ok <0|1> bool          `civicpay ledger verify` exits 0
//
// Progress, the 5xx and network errors by route, and every finding's reason
// go to stderr. The exit status is 1 when anything was lost, doubled,
// answered an unexpected 5xx, the ledger does not verify, or a process
// misbehaved (exited on its own, outlived SIGTERM past its bound); the logs
// of every process are then kept (their directory is printed). It is 2
// when the suite itself could not run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/civicpay/civicpay/internal/testkit/benchutil"
)

func main() {
	o := options{}
	flag.IntVar(&o.workers, "workers", 50, "clients paying back to back (payments in flight)")
	flag.DurationVar(&o.warm, "warm", 4*time.Second, "load before each fault")
	flag.DurationVar(&o.window, "window", 45*time.Second, "longest wait after a fault for payments to flow again on every gateway")
	flag.DurationVar(&o.steady, "steady", 3*time.Second, "load kept on once they do")
	flag.DurationVar(&o.settle, "settle", 60*time.Second, "longest wait for confirmed payments to be recorded after the load")
	flag.IntVar(&o.burst, "burst", 1000, "requests in the idempotency burst")
	flag.DurationVar(&o.down, "down", 8*time.Second, "how long kill9 leaves civicpay down (longer than gatewaysim's callback retries)")
	names := flag.String("scenarios", strings.Join(scenarioNames(), ","), "scenarios to run, in order")
	yard := flag.Duration("pgbench", 10*time.Second, "pgbench TPC-B yardstick duration (0: skip)")
	keep := flag.Bool("keep", false, "keep the database and the logs")
	flag.Parse()
	o.scenarios = strings.Split(*names, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o, *yard, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchchaos:", err)
		if ctx.Err() != nil {
			os.Exit(130)
		}
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func scenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

// result is one scenario's figures.
type result struct {
	lost, doubled, client5xx int
	recovery, recoveryAll    time.Duration
}

func (r result) ok() bool { return r.lost == 0 && r.doubled == 0 && r.client5xx == 0 }

// run runs the suite; ok is false when a check failed.
func run(ctx context.Context, o options, yard time.Duration, keep bool) (ok bool, err error) {
	var chosen []scenario
	for _, n := range o.scenarios {
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == n })
		if i < 0 {
			return false, fmt.Errorf("unknown scenario %q: want some of %s", n, strings.Join(scenarioNames(), ","))
		}
		chosen = append(chosen, scenarios[i])
	}
	binDir, err := os.MkdirTemp("", "benchchaos-bin-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(binDir)
	logDir, err := os.MkdirTemp("", "benchchaos-logs-")
	if err != nil {
		return false, err
	}
	h := &harness{binDir: binDir, logDir: logDir, hc: newHTTPClient(256)}
	defer func() {
		h.tearDown(keep)
		if ok && err == nil && !keep {
			os.RemoveAll(logDir)
		} else {
			benchutil.Progress("logs of every process kept in %s", logDir)
		}
	}()
	// Interrupted: stop the processes (by pid) and drop the database.
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			benchutil.Progress("interrupted: stopping every process the suite started, dropping its database")
			h.tearDown(keep)
		case <-finished:
		}
	}()
	if err := h.setUp(ctx); err != nil {
		return false, err
	}

	ratio := func(time.Duration) float64 { return -1 }
	if yard > 0 {
		benchutil.Progress("yardstick: pgbench TPC-B, 8 clients, %s, on the same server", yard)
		y, err := benchutil.PgbenchTPCB(ctx, &benchutil.Scratch{Name: h.db.name, URL: h.db.url}, 8, yard)
		if err != nil {
			return false, err
		}
		benchutil.Line("chaos_pgbench_tpcb_tps", round(y.TPS, 1), "1/s")
		benchutil.Line("chaos_pgbench_tpcb_latency_ms", round(y.LatencyMS, 3), "ms")
		ratio = func(d time.Duration) float64 {
			if d < 0 {
				return -1
			}
			return round(float64(d.Microseconds())/1000/y.LatencyMS, 1)
		}
	}
	if err := h.startServices(ctx); err != nil {
		return false, err
	}
	watch := newPaidWatch(h.db.pool)
	defer watch.close()
	runID := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
	ok = true
	for _, sc := range chosen {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		r, err := h.runScenario(ctx, sc, o, runID, watch)
		if err != nil {
			return false, fmt.Errorf("%s: %w", sc.name, err)
		}
		p := "chaos_" + sc.name + "_"
		benchutil.Line(p+"lost", float64(r.lost), "count")
		benchutil.Line(p+"doubled", float64(r.doubled), "count")
		benchutil.Line(p+"client_5xx", float64(r.client5xx), "count")
		benchutil.Line(p+"recovery_ms", ms(r.recovery), "ms")
		benchutil.Line(p+"recovery_all_gateways_ms", ms(r.recoveryAll), "ms")
		benchutil.Line(p+"recovery_vs_pgbench_tpcb", ratio(r.recovery), "ratio")
		ok = ok && r.ok()
	}

	benchutil.Progress("stopping civicpay (SIGTERM), then `civicpay ledger verify`")
	for _, in := range h.instances {
		if in.proc != nil && in.proc.running() {
			at := time.Now()
			if in.proc.term(60 * time.Second) {
				benchutil.Progress("civicpay %s exited %d ms after SIGTERM: %s", in.name, time.Since(at).Milliseconds(), exitText(in.proc.err))
			} else {
				trouble("civicpay %s did not exit within 60 s of SIGTERM: killed", in.name)
			}
		}
	}
	verify := filepath.Join(logDir, "ledger-verify.log")
	out, verr := runCommand(ctx, filepath.Join(binDir, "civicpay"), h.env, verify, "ledger", "verify")
	if verr != nil {
		benchutil.Progress("!! civicpay ledger verify: %v: %s (see %s)", verr, strings.TrimSpace(string(out)), verify)
		ok = false
	}
	benchutil.Line("chaos_ledger_verify_ok", boolValue(verr == nil), "bool")
	if n := troubles.Load(); n > 0 {
		benchutil.Progress("%d problems outside the checks (marked !! above)", n)
		ok = false
	}
	return ok, nil
}

// runScenario runs one scenario under load and evaluates it.
func (h *harness) runScenario(ctx context.Context, sc scenario, o options, runID string, watch *paidWatch) (result, error) {
	var r result
	a, b := h.instances[0], h.instances[1]
	if !a.proc.running() { // left down by the scenario before (reported then)
		if err := h.start(a); err != nil {
			return r, err
		}
	}
	if err := waitHTTP(a.url()+"/readyz", 60*time.Second); err != nil {
		return r, err
	}
	bases := []string{a.url()}
	if sc.two {
		if err := h.start(b); err != nil {
			return r, err
		}
		if err := waitHTTP(b.url()+"/readyz", 60*time.Second); err != nil {
			return r, err
		}
		h.lb.set(a.addr, b.addr)
		bases = append(bases, b.url())
	}
	h.lb.resetStats()
	h.mark("== benchchaos scenario " + sc.name)
	benchutil.Progress("== %s: %d clients paying, %s before the fault", sc.name, o.workers, o.warm)
	l := &load{name: sc.name, runID: runID, sim: h.sim, watch: watch, workers: o.workers,
		api: &api{hc: h.hc, bases: bases, key: h.portalKey, tally: newTally(sc.expect)}}
	l.start()
	time.Sleep(o.warm)
	end, done, err := sc.fault(ctx, h, l, o)
	if err != nil {
		l.halt(0)
		return r, err
	}
	l.faultEnd.Store(end.UnixNano())
	deadline := end.Add(o.window)
	for time.Now().Before(deadline) && !l.recoveredAll() && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if ctx.Err() != nil {
		l.halt(0)
		return r, ctx.Err()
	}
	if l.recoveredAll() {
		time.Sleep(o.steady)
	}
	if done != nil { // what the fault left running (a delayed restart) happens under load too
		done()
		time.Sleep(o.steady)
	}
	l.halt(15 * time.Second)
	if sc.two {
		h.lb.set(a.addr)
		if b.proc.running() {
			b.proc.term(30 * time.Second)
		}
	}
	pays := l.payments()
	var paidSeen int
	for _, p := range pays {
		if !p.doneAt.IsZero() {
			paidSeen++
		}
	}
	elapsed := time.Since(l.started)
	benchutil.Progress("%s: %d payments tried, %d seen paid by their client, in %.1f s; settling (at most %s)",
		sc.name, len(pays), paidSeen, elapsed.Seconds(), o.settle)
	t0 := time.Now()
	unpaid, err := settle(ctx, h.db.pool, h.sim, pays, o.settle)
	if err != nil {
		return r, fmt.Errorf("settle: %w", err)
	}
	benchutil.Progress("%s: settled in %d ms (%d confirmed payments not recorded paid)", sc.name, time.Since(t0).Milliseconds(), unpaid)
	orders, attempts, err := loadFacts(ctx, h.db.pool, l.keyPrefix())
	if err != nil {
		return r, fmt.Errorf("read the database: %w", err)
	}
	simSt, err := simStatuses(ctx, h.sim, pays, attempts)
	if err != nil {
		return r, fmt.Errorf("ask the simulator: %w", err)
	}
	f := evaluate(pays, orders, attempts, simSt, l.keyPrefix())

	r.lost, r.doubled = len(f.lost), len(f.doubled)
	r.client5xx, _ = l.api.tally.counts()
	r.recovery, r.recoveryAll, _ = l.recovery()
	h.describe(sc.name, l, pays, orders, f)
	return r, nil
}

// describe writes what the scenario saw to stderr.
func (h *harness) describe(name string, l *load, pays []*payment, orders []orderFacts, f findings) {
	var paid, confirmed, netErrCreates, gaveUp int
	for _, o := range orders {
		if o.paid() {
			paid++
		}
	}
	gaveUpWhy := map[string]int{}
	for _, p := range pays {
		if p.simStatus == "succeeded" {
			confirmed++
		}
		if p.createNetErr {
			netErrCreates++
		}
		if p.gaveUp != "" {
			gaveUp++
			gaveUpWhy[p.gaveUp[:min(len(p.gaveUp), 120)]]++
		}
	}
	benchutil.Progress("%s: %d orders in the database, %d paid; %d payments confirmed by the gateways; %d creates retried after a network error",
		name, len(orders), paid, confirmed, netErrCreates)
	for why, n := range gaveUpWhy {
		benchutil.Progress("%s: %d payments left unpaid by their client: %s", name, n, why)
	}
	first, all, per := l.recovery()
	var gw []string
	for _, g := range gateways {
		gw = append(gw, fmt.Sprintf("%s %.0f ms", g, ms(per[g])))
	}
	benchutil.Progress("%s: recovery %.0f ms to the first payment, %.0f ms to every gateway (%s)", name, ms(first), ms(all), strings.Join(gw, ", "))
	fw, up5, unreach, failed, fives := h.lb.resetStats()
	benchutil.Progress("%s: gateway callbacks through the balancer: %d answered (%d of them 5xx), %d with no instance reachable, %d cut (the gateway retries them)",
		name, fw, up5, unreach, failed)
	for k, n := range fives {
		benchutil.Progress("%s:   %6d × %s", name, n, k)
	}
	if c := l.api.cut.Load(); c > 0 {
		benchutil.Progress("%s: %d requests sent before the kill/SIGTERM got no answer", name, c)
	}
	unexpected, expected := l.api.tally.counts()
	benchutil.Progress("%s: client answers: %d unexpected 5xx, %d expected 5xx", name, unexpected, expected)
	for _, s := range l.api.tally.summary(time.Unix(0, l.faultEnd.Load())) {
		benchutil.Progress("%s:   %s", name, s)
	}
	for _, s := range reasons(f.lost) {
		benchutil.Progress("%s: !! LOST %s", name, s)
	}
	for _, s := range reasons(f.doubled) {
		benchutil.Progress("%s: !! DOUBLED %s", name, s)
	}
}

func ms(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return float64(d.Milliseconds())
}

func round(v float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

func boolValue(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}
