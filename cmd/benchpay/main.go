// Command benchpay measures paying end to end, with civicpay and gatewaysim in
// this process on loopback and a scratch database:
//
//	bench pay_per_s <n> 1/s                       complete payments per second at a fixed concurrency
//	bench pay_pgbench_tpcb_tps <n> 1/s            the yardstick: pgbench TPC-B, 8 clients, same server, same run
//	bench pay_vs_pgbench_tpcb <ratio> ratio       pay_per_s over it
//	bench pay_cpu_ms_per_payment <n> ms           the machine's CPU time per payment (all processes), and
//	bench pay_cpu_steal_ms_per_payment <n> ms     the time other virtual machines took from it
//	bench pay_callback_to_paid_p50_ms <n> ms      gateway callback sent → answered (order paid, ledger posted)
//	bench pay_callback_to_paid_p99_ms <n> ms
//	bench pay_success_with_faults <f> ratio       30% of MoMo's calls fail; ZaloPay serves the same method
//	bench pay_duplicate_entries <n> count         payment entries beyond one per order, after a duplicate-callback storm
//	bench pay_ledger_verify_ok <0|1> bool         ledger.Verify on everything recorded
//	bench pay_metrics_gather_errors <n> count      errors gathering civicpay's /metrics registry, scraped every 250 ms throughout
//	bench pay_metrics_bad_method_labels <n> count  HTTP series whose method label is not GET or POST (the methods the load uses)
//
// A complete payment is: create the order, start an attempt, pay it at the
// simulated gateway through its admin API, its callback reaches civicpay, and
// the order is paid with its ledger entry.
//
// With -sim-durable the simulator keeps its state in a temporary data dir,
// as the fault tests run it: every change written and synced before it is
// answered.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/internal/testkit/paydriver"
	"github.com/civicpay/civicpay/ledger"
)

func main() {
	concurrency := flag.Int("c", 96, "payments in flight at once")
	duration := flag.Duration("d", 20*time.Second, "measuring time of the main phase")
	// 16 connections suit two cores: with 64, PostgreSQL spends the CPU switching between backends
	// (measured 530–590 payments/s at 64 against 636–652 at 16 on the same machine).
	conns := flag.Int("conns", 16, "database connections of civicpay (its pool)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the main phase to this file")
	yard := flag.Duration("pgbench", 5*time.Second, "pgbench TPC-B yardstick duration (0: skip)")
	flag.BoolVar(&simDurable, "sim-durable", false, "run the gateway simulator with a data dir (every change synced before it is answered)")
	flag.Parse()
	profile = *cpuprofile
	if err := run(*concurrency, *conns, *duration, *yard); err != nil {
		fmt.Fprintln(os.Stderr, "benchpay:", err)
		os.Exit(1)
	}
}

var (
	profile    string
	simDurable bool
)

func run(concurrency, conns int, dur, yard time.Duration) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := benchutil.NewScratch(ctx, "pay", int32(conns))
	if err != nil {
		return err
	}
	defer s.Drop()
	var y benchutil.TPCB
	if yard > 0 {
		if y, err = benchutil.Yardstick(ctx, s, yard); err != nil {
			return err
		}
	}
	d, err := paydriver.Start(ctx, s, paydriver.Options{SimDurable: simDurable})
	if err != nil {
		return err
	}
	defer d.Close()
	b := &bench{d}
	scrapes := b.scrape(ctx, 250*time.Millisecond)

	benchutil.Progress("warming up (2s, %d payments in flight)", concurrency)
	if _, _, _, err := d.Load(ctx, 2*time.Second, concurrency, paydriver.Mixed); err != nil {
		return err
	}
	d.Latencies()
	benchutil.Progress("measuring complete payments over VNPAY, MoMo and ZaloPay (%s, %d in flight)", dur, concurrency)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		_ = pprof.StartCPUProfile(f)
	}
	cpu := benchutil.ReadCPU()
	tried, done, elapsed, err := d.Load(ctx, dur, concurrency, paydriver.Mixed)
	cpu = cpu.Since()
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	lat := d.Latencies()

	benchutil.Progress("30%% of MoMo's calls fail; MoMo preferred for e-wallets, ZaloPay beside it (%s)", dur/2)
	if err := d.Sim.SetFaults(gatewaysim.MoMo, gatewaysim.Faults{ErrorRate: 0.3}); err != nil {
		return err
	}
	triedFaults, doneFaults, _, err := d.Load(ctx, dur/2, concurrency, func(int) paydriver.Route { return paydriver.Route{Method: "ewallet", Gateway: gatewaysim.MoMo} })
	if err != nil {
		return err
	}
	if err := d.Sim.SetFaults(gatewaysim.MoMo, gatewaysim.Faults{}); err != nil {
		return err
	}

	benchutil.Progress("every VNPAY callback sent 5 times at once (%s)", dur/4)
	if err := d.Sim.SetFaults(gatewaysim.VNPAY, gatewaysim.Faults{CallbackCopies: 5, CallbackConcurrent: true}); err != nil {
		return err
	}
	if _, _, _, err := d.Load(ctx, dur/4, concurrency, func(int) paydriver.Route { return paydriver.Route{Method: "card", Gateway: gatewaysim.VNPAY} }); err != nil {
		return err
	}
	waitCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := d.Sim.WaitCallbacks(waitCtx); err != nil {
		return err
	}
	scraped := scrapes()
	dups, err := paydriver.DuplicatePayments(ctx, s.Pool)
	if err != nil {
		return err
	}
	benchutil.Progress("verifying the ledger")
	report, err := ledger.Verify(ctx, s.Pool)
	if err != nil {
		return err
	}
	for _, f := range report.Findings {
		benchutil.Progress("ledger verify: %s", f)
	}

	perS := float64(done) / elapsed.Seconds()
	benchutil.Line("pay_per_s", float64(int(perS)), "1/s")
	if yard > 0 {
		y.Lines("pay", perS)
	}
	if done > 0 {
		// CPU of the whole machine (civicpay, gatewaysim, the load and PostgreSQL) per payment.
		benchutil.Line("pay_cpu_ms_per_payment", float64(int(cpu.Busy.Seconds()*1e6/float64(done)))/1000, "ms")
		benchutil.Line("pay_cpu_steal_ms_per_payment", float64(int(cpu.Steal.Seconds()*1e6/float64(done)))/1000, "ms")
	}
	benchutil.Line("pay_callback_to_paid_p50_ms", benchutil.Percentile(lat, 50), "ms")
	benchutil.Line("pay_callback_to_paid_p99_ms", benchutil.Percentile(lat, 99), "ms")
	benchutil.Line("pay_incomplete", float64(tried-done), "count")
	benchutil.Line("pay_success_with_faults", ratio(doneFaults, triedFaults), "ratio")
	benchutil.Line("pay_duplicate_entries", float64(dups), "count")
	benchutil.Line("pay_ledger_verify_ok", boolValue(report.OK()), "bool")
	benchutil.Line("pay_metrics_gather_errors", float64(scraped.gatherErrors), "count")
	benchutil.Line("pay_metrics_bad_method_labels", float64(scraped.badMethods), "count")
	return nil
}

// scrapeResult is what scraping the registry during the load found.
type scrapeResult struct {
	scrapes, gatherErrors, badMethods int
}

// scrape gathers civicpay's metrics registry every interval, as Prometheus
// scrapes /metrics (promhttp gathers the same way and logs what fails),
// until the returned function is called, which returns the errors seen
// and, in the last scrape, the HTTP series labelled with a method the load
// never used (fasthttp's buffer reuse once showed "POS" and "GETT").
// bench is the driver with the metrics scraper.
type bench struct{ *paydriver.Driver }

func (b *bench) scrape(ctx context.Context, interval time.Duration) func() scrapeResult {
	var res scrapeResult
	stop, done := make(chan struct{}), make(chan struct{})
	gather := func(last bool) {
		res.scrapes++
		families, err := b.App.Metrics.Registry.Gather()
		if err != nil {
			var multi prometheus.MultiError
			if errors.As(err, &multi) {
				res.gatherErrors += len(multi)
			} else {
				res.gatherErrors++
			}
		}
		res.badMethods = 0
		for _, f := range families {
			if !strings.HasPrefix(f.GetName(), "civicpay_http_") {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "method" && l.GetValue() != http.MethodGet && l.GetValue() != http.MethodPost {
						res.badMethods++
						if last {
							benchutil.Progress("metrics: %s has method=%q", f.GetName(), l.GetValue())
						}
					}
				}
			}
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				gather(false)
			case <-stop:
				gather(true)
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() scrapeResult {
		close(stop)
		<-done
		benchutil.Progress("metrics scraped %d times during the load: %d gather errors", res.scrapes, res.gatherErrors)
		return res
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(int(float64(a)/float64(b)*10000)) / 10000
}

func boolValue(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}
