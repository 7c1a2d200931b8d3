// Command benchbreaker measures how soon payments flow again once the
// gateways come back from an outage, with civicpay and gatewaysim in this
// process on loopback (real HTTP) and a scratch database:
//
//	bench breaker_recovery_ms <n> ms               gatewaysim stopped (connections refused) for 5 s: from the
//	                                               moment it listens again to the first attempt, started after
//	                                               that, that a gateway accepted — the slower of card (VNPAY)
//	                                               and e-wallet (MoMo preferred, ZaloPay beside it)
//	bench breaker_recovery_card_ms <n> ms          the same for card alone
//	bench breaker_recovery_ewallet_ms <n> ms       and for e-wallet alone
//	bench breaker_recovery_503_ms <n> ms           every API call of the three gateways answered 503 for 5 s
//	bench breaker_outage_card_refused <n> count    card attempts refused during both outages (VNPAY's Create
//	                                               makes no call: only its failing status queries could refuse them)
//	bench breaker_outage_bank_transfer_refused <n> count   bank-transfer attempts refused during both outages
//	                                               (VietQR makes no call: want 0)
//	bench breaker_momo_down_card_refused <n> count         MoMo alone failing for 5 s: card attempts refused
//	                                               (another gateway's method: want 0)
//	bench breaker_momo_down_ewallet_refused <n> count      and e-wallet attempts refused (ZaloPay serves it: want 0)
//
// A recovery that does not come within -cap is printed as -1.
//
// Throughout, workers start attempts (each on a new order) and pay each one
// accepted at the simulated gateway, and ~50 attempts are left pending, as
// citizens who have not paid yet: their status jobs query the gateways every
// few seconds (CIVICPAY_STATUS_POLL_DELAY 1s, _MAX 5s instead of 1m/5m, so
// that an outage of seconds meets them as a long-running service's does).
// The breakers run with the service's defaults otherwise.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/payments/catalogue"
)

func main() {
	o := defaults
	flag.DurationVar(&o.outage, "outage", o.outage, "how long the gateways fail")
	flag.DurationVar(&o.recoveryCap, "cap", o.recoveryCap, "longest wait for payments to flow again")
	flag.IntVar(&o.workers, "c", o.workers, "workers starting attempts")
	flag.IntVar(&o.pending, "pending", o.pending, "attempts left pending (status queries)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "benchbreaker:", err)
		os.Exit(1)
	}
}

type options struct {
	outage, warmup, recoveryCap time.Duration
	workers, pending            int
}

var defaults = options{outage: 5 * time.Second, warmup: 3 * time.Second, recoveryCap: 90 * time.Second, workers: 8, pending: 50}

// The ways of paying the load uses.
const (
	card         = "card"
	ewallet      = "ewallet"
	bankTransfer = "bank_transfer"
)

func run(o options) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := benchutil.NewScratch(ctx, "breaker", 16)
	if err != nil {
		return err
	}
	defer s.Drop()
	// The yardstick, measured first on the same server: recovery is also given
	// in TPC-B mean latencies, so figures from different machines compare.
	benchutil.Progress("yardstick: pgbench TPC-B, 8 clients, 5s")
	y, err := benchutil.PgbenchTPCB(ctx, s, 8, 5*time.Second)
	if err != nil {
		return fmt.Errorf("yardstick: %w", err)
	}
	b, err := start(ctx, s)
	if err != nil {
		return err
	}
	defer b.sim.Close()
	defer b.simDown()

	benchutil.Progress("leaving %d attempts pending, then warming up (%s, %d workers)", o.pending, o.warmup, o.workers)
	for i := range o.pending {
		if _, err := b.attempt(ctx, []string{card, ewallet}[i%2], false); err != nil {
			return fmt.Errorf("pending attempt: %w", err)
		}
	}
	l := b.startLoad(ctx, o.workers)
	defer l.stop()
	time.Sleep(o.warmup)
	if n := l.refusedSince(time.Time{}); n[card]+n[ewallet]+n[bankTransfer] > 0 {
		return fmt.Errorf("attempts refused before any fault: %v", n)
	}

	// 1. The simulator goes away: connections refused, as when it is killed.
	benchutil.Progress("gatewaysim stopped for %s", o.outage)
	down := time.Now()
	b.simDown()
	time.Sleep(o.outage)
	if err := b.simUp(); err != nil {
		return err
	}
	up := time.Now()
	byMethod := l.recovery(up, o.recoveryCap, card, ewallet)
	refused := l.refusedBetween(down, up)
	benchutil.Progress("back: card after %v ms, e-wallet after %v ms", byMethod[card], byMethod[ewallet])
	if err := b.settle(o.recoveryCap); err != nil {
		return err
	}

	// 2. Every API call answered 503.
	benchutil.Progress("every gateway API call answered 503 for %s", o.outage)
	down = time.Now()
	if err := b.faults(gatewaysim.Faults{ErrorRate: 1}, gatewaysim.VNPAY, gatewaysim.MoMo, gatewaysim.ZaloPay); err != nil {
		return err
	}
	time.Sleep(o.outage)
	if err := b.faults(gatewaysim.Faults{}, gatewaysim.VNPAY, gatewaysim.MoMo, gatewaysim.ZaloPay); err != nil {
		return err
	}
	up = time.Now()
	by503 := l.recovery(up, o.recoveryCap, card, ewallet)
	for m, n := range l.refusedBetween(down, up) {
		refused[m] += n
	}
	benchutil.Progress("back: card after %v ms, e-wallet after %v ms", by503[card], by503[ewallet])
	if err := b.settle(o.recoveryCap); err != nil {
		return err
	}

	// 3. MoMo alone fails: nothing else may become unavailable.
	benchutil.Progress("MoMo alone answers 503 for %s", o.outage)
	down = time.Now()
	if err := b.faults(gatewaysim.Faults{ErrorRate: 1}, gatewaysim.MoMo); err != nil {
		return err
	}
	time.Sleep(o.outage)
	if err := b.faults(gatewaysim.Faults{}, gatewaysim.MoMo); err != nil {
		return err
	}
	momoDown := l.refusedBetween(down, time.Now())

	benchutil.Line("breaker_recovery_ms", worst(byMethod[card], byMethod[ewallet]), "ms")
	benchutil.Line("breaker_pgbench_tpcb_latency_ms", y.LatencyMS, "ms")
	if r := worst(byMethod[card], byMethod[ewallet]); r >= 0 && y.LatencyMS > 0 {
		benchutil.Line("breaker_recovery_vs_pgbench_tpcb", math.Round(r/y.LatencyMS*100)/100, "ratio")
	}
	benchutil.Line("breaker_recovery_card_ms", byMethod[card], "ms")
	benchutil.Line("breaker_recovery_ewallet_ms", byMethod[ewallet], "ms")
	benchutil.Line("breaker_recovery_503_ms", worst(by503[card], by503[ewallet]), "ms")
	benchutil.Line("breaker_outage_card_refused", float64(refused[card]), "count")
	benchutil.Line("breaker_outage_bank_transfer_refused", float64(refused[bankTransfer]), "count")
	benchutil.Line("breaker_momo_down_card_refused", float64(momoDown[card]), "count")
	benchutil.Line("breaker_momo_down_ewallet_refused", float64(momoDown[ewallet]), "count")
	return nil
}

// worst is the larger recovery time; -1 (never) wins.
func worst(a, b float64) float64 {
	if a < 0 || b < 0 {
		return -1
	}
	return max(a, b)
}

// bench is civicpay and gatewaysim running side by side.
type bench struct {
	appURL, simAddr string
	key             string
	sim             *gatewaysim.Sim
	client          *http.Client
	seq             atomic.Int64

	mu     sync.Mutex
	simSrv *http.Server // nil while the simulator is down
}

// start seeds the catalogue, then starts gatewaysim and civicpay on loopback.
func start(ctx context.Context, s *benchutil.Scratch) (*bench, error) {
	ctx = audit.System(ctx, "benchbreaker")
	cat := catalogue.NewStore(s.Pool)
	if _, err := cat.UpsertAgency(ctx, catalogue.Agency{Code: "STP-HCM", Name: "STP-HCM", TreasuryAccount: "KB-STP-HCM"}); err != nil {
		return nil, err
	}
	fee := decimal.NewFromInt(200000)
	if _, err := cat.UpsertService(ctx, catalogue.Service{Code: "STP-LLTP", AgencyCode: "STP-HCM", Name: "LLTP",
		Kind: catalogue.KindFee, FixedAmount: &fee, Active: true}); err != nil {
		return nil, err
	}
	_, key, err := auth.NewStore(s.Pool).Create(ctx, auth.RolePortal, "", "benchbreaker")
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
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	b := &bench{appURL: "http://" + appLn.Addr().String(), simAddr: simLn.Addr().String(), key: key,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	if b.sim, err = gatewaysim.New(gatewaysim.DemoConfig(b.appURL)); err != nil {
		return nil, err
	}
	b.serveSim(simLn)

	cfg := config.Defaults(s.URL)
	cfg.PublicURL, cfg.LogLevel, cfg.Paying, cfg.Recon.Cutoff = b.appURL, "error", config.DemoPaying("http://"+b.simAddr), "off"
	cfg.Paying.Preferences = "ewallet=momo,zalopay"
	cfg.Paying.StatusPollDelay, cfg.Paying.StatusPollMax = time.Second, 5*time.Second
	cfg.Limits = cfg.Limits.Unlimited() // one client address, one key
	cfg.DataKeys, cfg.LookupKey = "bench:"+secretbox.GenerateKey(), secretbox.GenerateKey()
	a, err := app.New(ctx, cfg, s.Pool, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	go func() { _ = a.Run(ctx, appLn, nil) }()
	return b, nil
}

func (b *bench) serveSim(ln net.Listener) {
	srv := &http.Server{Handler: b.sim.Handler()}
	b.mu.Lock()
	b.simSrv = srv
	b.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// simDown stops the simulator's server: its port refuses connections and
// the calls in flight are cut, as when the process is killed. Its state is
// kept, as a real gateway keeps its own.
func (b *bench) simDown() {
	b.mu.Lock()
	srv := b.simSrv
	b.simSrv = nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// simUp listens on the simulator's address again.
func (b *bench) simUp() error {
	var (
		ln  net.Listener
		err error
	)
	for range 50 { // the port may linger for a moment
		if ln, err = net.Listen("tcp", b.simAddr); err == nil {
			b.serveSim(ln)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("gatewaysim back on %s: %w", b.simAddr, err)
}

func (b *bench) simIsUp() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.simSrv != nil
}

func (b *bench) faults(f gatewaysim.Faults, names ...string) error {
	for _, n := range names {
		if err := b.sim.SetFaults(n, f); err != nil {
			return err
		}
	}
	return nil
}

// settle waits until no breaker is open (no "state" field of GET
// /v1/gateways is "open"), so that one scenario does not start in the
// previous one's aftermath. A half-open breaker takes calls; one that no
// traffic reaches (ZaloPay behind MoMo) may stay half-open.
func (b *bench) settle(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var gws struct {
			Data []map[string]any `json:"data"`
		}
		if status, err := b.do(context.Background(), http.MethodGet, "/v1/gateways", "", "", &gws); err == nil && status == http.StatusOK && !anyOpen(gws.Data) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("breakers still open after %s: %v", limit, gws.Data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// anyOpen: some "state" in v, at any depth, is "open".
func anyOpen(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); (k == "state" && ok && s == "open") || anyOpen(x) {
				return true
			}
		}
	case []map[string]any:
		for _, x := range v {
			if anyOpen(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if anyOpen(x) {
				return true
			}
		}
	}
	return false
}

var errRefused = errors.New("attempt refused")

// attempt creates an order and starts an attempt with method, then pays it
// at the simulated gateway if pay is set (and the gateway has a pay page).
// It returns when the attempt was answered, and errRefused when it was not
// accepted.
func (b *bench) attempt(ctx context.Context, method string, pay bool) (time.Time, error) {
	n := b.seq.Add(1)
	var o struct {
		ID string `json:"id"`
	}
	body := `{"lines":[{"service":"STP-LLTP","agency":"STP-HCM","amount":200000}],"payer":{"name":"Nguyễn Văn An","email":"an@example.vn"},"description":"Lệ phí"}`
	if status, err := b.do(ctx, http.MethodPost, "/v1/orders", "breaker-"+strconv.FormatInt(n, 10), body, &o); err != nil || status != http.StatusCreated {
		return time.Time{}, fmt.Errorf("create order: %d %w", status, err)
	}
	var a struct {
		Gateway     string `json:"gateway"`
		RedirectURL string `json:"redirect_url"`
	}
	status, err := b.do(ctx, http.MethodPost, "/v1/orders/"+o.ID+"/attempts", "", fmt.Sprintf(`{"method":%q}`, method), &a)
	answered := time.Now()
	switch {
	case err != nil:
		return answered, err
	case status != http.StatusCreated:
		return answered, fmt.Errorf("%w: %d", errRefused, status)
	}
	if pay && a.RedirectURL != "" && b.simIsUp() {
		// A failure here (the simulator went down meanwhile) leaves the
		// attempt to its status job, as a citizen who gave up would.
		_, _ = b.sim.Pay(gatewaysim.PayRequest{Gateway: a.Gateway, PayURL: a.RedirectURL, Outcome: gatewaysim.PaySuccess})
	}
	return answered, nil
}

func (b *bench) do(ctx context.Context, method, path, idemKey, body string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.appURL+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	res, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode >= 300 || out == nil {
		return res.StatusCode, err
	}
	return res.StatusCode, json.Unmarshal(data, out)
}

// outcome is one attempt: its method, when it was sent and answered, and
// whether a gateway accepted it.
type outcome struct {
	method         string
	sent, answered time.Time
	ok             bool
}

// load starts attempts from its workers until stopped, recording each.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	log    []outcome
}

// startLoad runs n workers alternating card and e-wallet attempts, and one
// worker starting a bank transfer every 200 ms (VietQR attempts are never
// paid here, so they are kept few: each has a status job).
func (b *bench) startLoad(ctx context.Context, n int) *load {
	ctx, cancel := context.WithCancel(ctx)
	l := &load{cancel: cancel}
	worker := func(method func(i int) string, pause time.Duration) {
		defer l.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			m := method(i)
			sent := time.Now()
			answered, err := b.attempt(ctx, m, true)
			if ctx.Err() != nil {
				return
			}
			if err != nil && !errors.Is(err, errRefused) {
				benchutil.Progress("%s attempt: %v", m, err)
			}
			if !answered.IsZero() {
				l.mu.Lock()
				l.log = append(l.log, outcome{method: m, sent: sent, answered: answered, ok: err == nil})
				l.mu.Unlock()
			}
			time.Sleep(pause)
		}
	}
	for w := range n {
		l.wg.Add(1)
		go worker(func(i int) string { return []string{card, ewallet}[(i+w)%2] }, 10*time.Millisecond)
	}
	l.wg.Add(1)
	go worker(func(int) string { return bankTransfer }, 200*time.Millisecond)
	return l
}

func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// refusedBetween counts, per method, the attempts sent in [from, to) that
// were refused.
func (l *load) refusedBetween(from, to time.Time) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, o := range l.log {
		if !o.ok && !o.sent.Before(from) && o.sent.Before(to) {
			out[o.method]++
		}
	}
	return out
}

func (l *load) refusedSince(from time.Time) map[string]int { return l.refusedBetween(from, time.Now()) }

// recovery waits until every method has an attempt sent at or after up that
// a gateway accepted, at most limit, and returns per method the time from up
// to that first acceptance's answer, in milliseconds (-1: none within limit).
func (l *load) recovery(up time.Time, limit time.Duration, ms ...string) map[string]float64 {
	out := map[string]float64{}
	deadline := up.Add(limit)
	for {
		l.mu.Lock()
		for _, m := range ms {
			if _, done := out[m]; done {
				continue
			}
			for _, o := range l.log {
				if o.method == m && o.ok && !o.sent.Before(up) {
					out[m] = float64(o.answered.Sub(up).Microseconds()) / 1000
					break
				}
			}
		}
		l.mu.Unlock()
		if len(out) == len(ms) {
			return out
		}
		if time.Now().After(deadline) {
			for _, m := range ms {
				if _, done := out[m]; !done {
					out[m] = -1
				}
			}
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}
