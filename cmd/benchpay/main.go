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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"
	"github.com/valyala/fasthttp"

	"github.com/civicpay/civicpay/client"
	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/payments/catalogue"
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

func run(concurrency, conns int, d, yard time.Duration) error {
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
	b, err := start(ctx, s)
	if err != nil {
		return err
	}
	defer func() {
		_ = b.sim.Close()
		if b.simDir != "" {
			_ = os.RemoveAll(b.simDir)
		}
	}()
	scrapes := b.scrape(ctx, 250*time.Millisecond)

	benchutil.Progress("warming up (2s, %d payments in flight)", concurrency)
	if _, _, _, err := b.load(ctx, 2*time.Second, concurrency, mixed); err != nil {
		return err
	}
	b.latencies.reset()
	benchutil.Progress("measuring complete payments over VNPAY, MoMo and ZaloPay (%s, %d in flight)", d, concurrency)
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		_ = pprof.StartCPUProfile(f)
	}
	cpu := benchutil.ReadCPU()
	tried, done, elapsed, err := b.load(ctx, d, concurrency, mixed)
	cpu = cpu.Since()
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	lat := b.latencies.reset()

	benchutil.Progress("30%% of MoMo's calls fail; MoMo preferred for e-wallets, ZaloPay beside it (%s)", d/2)
	if err := b.sim.SetFaults(gatewaysim.MoMo, gatewaysim.Faults{ErrorRate: 0.3}); err != nil {
		return err
	}
	triedFaults, doneFaults, _, err := b.load(ctx, d/2, concurrency, func(int) route { return route{"ewallet", gatewaysim.MoMo} })
	if err != nil {
		return err
	}
	if err := b.sim.SetFaults(gatewaysim.MoMo, gatewaysim.Faults{}); err != nil {
		return err
	}

	benchutil.Progress("every VNPAY callback sent 5 times at once (%s)", d/4)
	if err := b.sim.SetFaults(gatewaysim.VNPAY, gatewaysim.Faults{CallbackCopies: 5, CallbackConcurrent: true}); err != nil {
		return err
	}
	if _, _, _, err := b.load(ctx, d/4, concurrency, func(int) route { return route{"card", gatewaysim.VNPAY} }); err != nil {
		return err
	}
	waitCtx, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	if err := b.sim.WaitCallbacks(waitCtx); err != nil {
		return err
	}
	scraped := scrapes()
	dups, err := duplicatePayments(ctx, s.Pool)
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
func (b *bench) scrape(ctx context.Context, interval time.Duration) func() scrapeResult {
	var res scrapeResult
	stop, done := make(chan struct{}), make(chan struct{})
	gather := func(last bool) {
		res.scrapes++
		families, err := b.metrics.Registry.Gather()
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

// bench is civicpay and gatewaysim running side by side.
type bench struct {
	appURL, simURL string
	simDir         string // the simulator's data dir with -sim-durable
	key            string
	sim            *gatewaysim.Sim
	pool           *pgxpool.Pool
	metrics        *metrics.Metrics
	client         *fasthttp.Client
	api            *client.ClientWithResponses // civicpay's API, with the portal's key
	callbacks      *callbackWatch
	latencies      *durations
	seq            atomic.Int64
}

// start seeds the catalogue, then starts gatewaysim and civicpay on loopback.
func start(ctx context.Context, s *benchutil.Scratch) (*bench, error) {
	ctx = audit.System(ctx, "benchpay")
	cat := catalogue.NewStore(s.Pool)
	for _, code := range []string{"STP-HCM", "CSGT-HN"} {
		if _, err := cat.UpsertAgency(ctx, catalogue.Agency{Code: code, Name: code, TreasuryAccount: "KB-" + code}); err != nil {
			return nil, err
		}
	}
	fee, lo, hi := decimal.NewFromInt(200000), decimal.NewFromInt(10000), decimal.NewFromInt(2000000)
	for _, svc := range []catalogue.Service{
		{Code: "STP-LLTP", AgencyCode: "STP-HCM", Name: "LLTP", Kind: catalogue.KindFee, FixedAmount: &fee, Active: true},
		{Code: "CSGT-TAMGIU", AgencyCode: "CSGT-HN", Name: "Storage", Kind: catalogue.KindCharge, MinAmount: &lo, MaxAmount: &hi, Active: true},
	} {
		if _, err := cat.UpsertService(ctx, svc); err != nil {
			return nil, err
		}
	}
	_, key, err := auth.NewStore(s.Pool).Create(ctx, auth.RolePortal, "", "benchpay")
	if err != nil {
		return nil, err
	}
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &bench{appURL: "http://" + appLn.Addr().String(), simURL: "http://" + simLn.Addr().String(), key: key,
		pool: s.Pool, client: &fasthttp.Client{MaxConnsPerHost: 512}, latencies: &durations{}}
	b.callbacks = newCallbackWatch(b.latencies)
	if b.api, err = client.NewClientWithResponses(b.appURL, client.WithHTTPClient(benchutil.FastDoer{Client: b.client}),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+key)
			return nil
		})); err != nil {
		return nil, err
	}
	simCfg := gatewaysim.DemoConfig(b.appURL)
	simCfg.Callbacks.Client = &http.Client{Transport: b.callbacks}
	if simDurable {
		if simCfg.DataDir, err = os.MkdirTemp("", "benchpay-gatewaysim-"); err != nil {
			return nil, err
		}
		b.simDir = simCfg.DataDir
	}
	if b.sim, err = gatewaysim.New(simCfg); err != nil {
		return nil, err
	}
	go func() { _ = http.Serve(simLn, b.sim.Handler()) }()

	cfg := config.Defaults(s.URL)
	cfg.PublicURL, cfg.LogLevel, cfg.Paying, cfg.Recon.Cutoff = b.appURL, "error", config.DemoPaying(b.simURL), "off"
	cfg.Limits = cfg.Limits.Unlimited() // one client address, one key, thousands of requests a second
	cfg.DataKeys, cfg.LookupKey = "bench:"+secretbox.GenerateKey(), secretbox.GenerateKey()
	a, err := app.New(ctx, cfg, s.Pool, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	b.metrics = a.Metrics
	go func() { _ = a.Run(ctx, appLn, nil) }()
	return b, nil
}

// route is how one payment is made: a method and the preferred gateway.
type route struct{ method, gateway string }

// mixed spreads payments over the three gateways with an API.
func mixed(i int) route {
	return []route{{"card", gatewaysim.VNPAY}, {"ewallet", gatewaysim.MoMo}, {"ewallet", gatewaysim.ZaloPay}}[i%3]
}

// load makes payments from n goroutines for d. It returns how many were
// tried, how many completed (checked in the database: paid, one ledger
// entry), and the time taken.
func (b *bench) load(ctx context.Context, d time.Duration, n int, pick func(int) route) (int, int, time.Duration, error) {
	var (
		mu   sync.Mutex
		ids  []string
		next atomic.Int64
	)
	lat, failed, elapsed := benchutil.Load(d, n, func() (time.Duration, error) {
		start := time.Now()
		id, err := b.payOnce(pick(int(next.Add(1) - 1)))
		if err != nil {
			benchutil.Progress("payment failed: %v", err)
			return 0, err
		}
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		return time.Since(start), nil
	})
	done, err := b.paidOnce(ctx, ids)
	return len(lat) + failed, done, elapsed, err
}

// payOnce makes one complete payment and waits until civicpay answered its
// callback (by then the order is paid, or the callback was refused). It
// returns the order's id.
func (b *bench) payOnce(r route) (string, error) {
	n := b.seq.Add(1)
	var fee, charge client.Amount
	if err := fee.FromAmount0("200000"); err != nil {
		return "", err
	}
	if err := charge.FromAmount0(strconv.FormatInt(10000+n%1000*100, 10)); err != nil {
		return "", err
	}
	email := "an@example.vn"
	created, err := b.api.CreateOrderWithResponse(context.Background(), &client.CreateOrderParams{IdempotencyKey: "bench-" + strconv.FormatInt(n, 10)},
		client.CreateOrderJSONRequestBody{
			Lines: []client.CreateOrderLine{{Service: "STP-LLTP", Agency: "STP-HCM", Amount: fee},
				{Service: "CSGT-TAMGIU", Agency: "CSGT-HN", Amount: charge}},
			Payer:       client.Payer{Name: "Nguyễn Văn An", Email: &email},
			Description: "Lệ phí",
		})
	if err != nil {
		return "", fmt.Errorf("create order: %w", err)
	}
	if created.JSON201 == nil {
		return "", fmt.Errorf("create order: status %d: %.300s", created.StatusCode(), created.Body)
	}
	o := created.JSON201
	gateway := r.gateway
	started, err := b.api.StartAttemptWithResponse(context.Background(), o.Id,
		client.StartAttemptJSONRequestBody{Method: client.StartAttemptMethod(r.method), Gateway: &gateway})
	if err != nil {
		return "", fmt.Errorf("start attempt: %w", err)
	}
	if started.JSON201 == nil {
		return "", fmt.Errorf("start attempt: status %d: %.300s", started.StatusCode(), started.Body)
	}
	a := started.JSON201
	redirect := ""
	if a.RedirectUrl != nil {
		redirect = *a.RedirectUrl
	}
	answered := b.callbacks.expect(a.GatewayRef)
	defer b.callbacks.forget(a.GatewayRef)
	pay := fmt.Sprintf(`{"gateway":%q,"pay_url":%q,"outcome":"success"}`, a.Gateway, redirect)
	if err := b.call(b.simURL+"/admin/pay", pay, http.StatusOK, nil); err != nil {
		return "", fmt.Errorf("pay at %s: %w", a.Gateway, err)
	}
	select {
	case <-answered:
		return o.Id.String(), nil
	case <-time.After(5 * time.Second): // the callback was lost or refused: is the order paid anyway?
		return o.Id.String(), b.waitPaid(o.Id.String())
	}
}

// waitPaid polls the order in the database for a while, in case the
// callback had to be retried or the status job pays it.
func (b *bench) waitPaid(orderID string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var status string
		if err := b.pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = $1`, orderID).Scan(&status); err != nil {
			return err
		}
		if status == "paid" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("order %s still %s", orderID, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// paidOnce counts the orders among ids that are paid with exactly one
// payment entry in the ledger: the payments that really completed.
func (b *bench) paidOnce(ctx context.Context, ids []string) (int, error) {
	var n int
	err := b.pool.QueryRow(ctx, `SELECT count(*) FROM orders o
		JOIN (SELECT split_part(reference, '/', 1) AS ref FROM ledger_entries WHERE kind = 'payment'
			GROUP BY 1 HAVING count(*) = 1) e ON e.ref = 'order:' || o.id
		WHERE o.id = ANY($1::uuid[]) AND o.status = 'paid'`, ids).Scan(&n)
	return n, err
}

// call POSTs body to url (the simulator's admin API) and decodes the JSON answer.
func (b *bench) call(url, body string, want int, out any) error {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(url)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := b.client.DoTimeout(req, res, 30*time.Second); err != nil {
		return err
	}
	if res.StatusCode() != want {
		return fmt.Errorf("status %d: %.300s", res.StatusCode(), res.Body())
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(res.Body(), out)
}

// duplicatePayments counts payment entries beyond one per order.
func duplicatePayments(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT coalesce(sum(n - 1), 0) FROM (
		SELECT count(*) AS n FROM ledger_entries WHERE kind = 'payment' GROUP BY split_part(reference, '/', 1)) per_order`).Scan(&n)
	return n, err
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
