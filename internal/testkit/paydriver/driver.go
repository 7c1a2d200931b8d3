// Package paydriver makes complete payments against civicpay and gatewaysim
// running in the calling process on loopback: create the order, start an
// attempt, pay it at the simulated gateway, its callback reaches civicpay,
// and the order is paid with its ledger entry. cmd/benchpay measures with
// it on an empty database, cmd/benchscale on one with a year of data.
package paydriver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/valyala/fasthttp"

	"github.com/civicpay/civicpay/client"
	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// The catalogue the payments are of: an order has a fixed fee of STP-LLTP
// (agency STP-HCM) and a charge of CSGT-TAMGIU (agency CSGT-HN).
const (
	AgencyA, ServiceA = "STP-HCM", "STP-LLTP"
	AgencyB, ServiceB = "CSGT-HN", "CSGT-TAMGIU"
	FeeA              = 200000
)

// Options of Start.
type Options struct {
	// SimDurable runs the gateway simulator with a temporary data dir, as
	// the fault tests run it: every change written and synced before it is
	// answered.
	SimDurable bool
	// Configure, when set, may change civicpay's configuration before the
	// app is built.
	Configure func(*config.Config)
}

// Driver is civicpay and gatewaysim running side by side on one database.
type Driver struct {
	AppURL, SimURL string
	Key            string // the portal's API key
	Sim            *gatewaysim.Sim
	App            *app.App
	Pool           *pgxpool.Pool
	Client         *fasthttp.Client
	API            *client.ClientWithResponses // civicpay's API, with the portal's key

	simDir    string
	cancel    context.CancelFunc
	stopped   chan struct{} // closed when the app has stopped
	closing   sync.Once
	callbacks *callbackWatch
	latencies *durations
	seq       atomic.Int64
}

// Start upserts the catalogue, creates a portal key, then starts gatewaysim
// and civicpay on loopback, civicpay on s's pool. Close stops both.
func Start(ctx context.Context, s *benchutil.Scratch, o Options) (*Driver, error) {
	ctx, cancel := context.WithCancel(ctx)
	d, err := start(ctx, s, o)
	if err != nil {
		cancel()
		if d != nil {
			d.closeSim()
		}
		return nil, err
	}
	d.cancel = cancel
	return d, nil
}

func start(ctx context.Context, s *benchutil.Scratch, o Options) (*Driver, error) {
	sys := audit.System(ctx, "paydriver")
	cat := catalogue.NewStore(s.Pool)
	for _, code := range []string{AgencyA, AgencyB} {
		if _, err := cat.UpsertAgency(sys, catalogue.Agency{Code: code, Name: code, TreasuryAccount: "KB-" + code}); err != nil {
			return nil, err
		}
	}
	fee, lo, hi := decimal.NewFromInt(FeeA), decimal.NewFromInt(10000), decimal.NewFromInt(2000000)
	for _, svc := range []catalogue.Service{
		{Code: ServiceA, AgencyCode: AgencyA, Name: "LLTP", Kind: catalogue.KindFee, FixedAmount: &fee, Active: true},
		{Code: ServiceB, AgencyCode: AgencyB, Name: "Storage", Kind: catalogue.KindCharge, MinAmount: &lo, MaxAmount: &hi, Active: true},
	} {
		if _, err := cat.UpsertService(sys, svc); err != nil {
			return nil, err
		}
	}
	_, key, err := auth.NewStore(s.Pool).Create(sys, auth.RolePortal, "", "paydriver")
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
	d := &Driver{AppURL: "http://" + appLn.Addr().String(), SimURL: "http://" + simLn.Addr().String(), Key: key,
		Pool: s.Pool, Client: &fasthttp.Client{MaxConnsPerHost: 512}, latencies: &durations{}}
	d.callbacks = newCallbackWatch(d.latencies)
	if d.API, err = client.NewClientWithResponses(d.AppURL, client.WithHTTPClient(benchutil.FastDoer{Client: d.Client}),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+key)
			return nil
		})); err != nil {
		return nil, err
	}
	simCfg := gatewaysim.DemoConfig(d.AppURL)
	simCfg.Callbacks.Client = &http.Client{Transport: d.callbacks}
	if o.SimDurable {
		if simCfg.DataDir, err = os.MkdirTemp("", "paydriver-gatewaysim-"); err != nil {
			return nil, err
		}
		d.simDir = simCfg.DataDir
	}
	if d.Sim, err = gatewaysim.New(simCfg); err != nil {
		return d, err
	}
	go func() { _ = http.Serve(simLn, d.Sim.Handler()) }()

	cfg := config.Defaults(s.URL)
	cfg.PublicURL, cfg.LogLevel, cfg.Paying, cfg.Recon.Cutoff = d.AppURL, "error", config.DemoPaying(d.SimURL), "off"
	cfg.Limits = cfg.Limits.Unlimited() // one client address, one key, thousands of requests a second
	cfg.DataKeys, cfg.LookupKey = "bench:"+secretbox.GenerateKey(), secretbox.GenerateKey()
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	a, err := app.New(ctx, cfg, s.Pool, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return d, err
	}
	d.App, d.stopped = a, make(chan struct{})
	go func() {
		defer close(d.stopped)
		_ = a.Run(ctx, appLn, nil)
	}()
	return d, nil
}

// Close stops civicpay (waiting, up to a minute, until it has: its River
// workers no longer take jobs) and the simulator.
// Closing again does nothing.
func (d *Driver) Close() {
	d.closing.Do(func() {
		d.cancel()
		select {
		case <-d.stopped:
		case <-time.After(time.Minute):
			benchutil.Progress("paydriver: civicpay still stopping after a minute")
		}
		d.closeSim()
	})
}

func (d *Driver) closeSim() {
	if d.Sim != nil {
		_ = d.Sim.Close()
	}
	if d.simDir != "" {
		_ = os.RemoveAll(d.simDir)
	}
}

// Latencies returns the callback-to-paid times collected since the last
// call, and starts afresh: each is from the simulator sending a callback to
// civicpay answering it (civicpay answers once the payment is committed).
func (d *Driver) Latencies() []time.Duration { return d.latencies.reset() }

// Route is how one payment is made: a method and the preferred gateway.
type Route struct{ Method, Gateway string }

// Mixed spreads payments over the three gateways with an API.
func Mixed(i int) Route {
	return []Route{{"card", gatewaysim.VNPAY}, {"ewallet", gatewaysim.MoMo}, {"ewallet", gatewaysim.ZaloPay}}[i%3]
}

// Load makes payments from n goroutines for dur. It returns how many were
// tried, how many completed (checked in the database: paid, one ledger
// entry), and the time taken.
func (d *Driver) Load(ctx context.Context, dur time.Duration, n int, pick func(int) Route) (int, int, time.Duration, error) {
	var (
		mu   sync.Mutex
		ids  []string
		next atomic.Int64
	)
	lat, failed, elapsed := benchutil.Load(dur, n, func() (time.Duration, error) {
		start := time.Now()
		id, err := d.payOnce(pick(int(next.Add(1) - 1)))
		if err != nil {
			benchutil.Progress("payment failed: %v", err)
			return 0, err
		}
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		return time.Since(start), nil
	})
	done, err := d.paidOnce(ctx, ids)
	return len(lat) + failed, done, elapsed, err
}

// payOnce makes one complete payment and waits until civicpay answered its
// callback (by then the order is paid, or the callback was refused). It
// returns the order's id.
func (d *Driver) payOnce(r Route) (string, error) {
	n := d.seq.Add(1)
	var fee, charge client.Amount
	if err := fee.FromAmount0(strconv.Itoa(FeeA)); err != nil {
		return "", err
	}
	if err := charge.FromAmount0(strconv.FormatInt(10000+n%1000*100, 10)); err != nil {
		return "", err
	}
	email := "an@example.vn"
	created, err := d.API.CreateOrderWithResponse(context.Background(), &client.CreateOrderParams{IdempotencyKey: "bench-" + strconv.FormatInt(n, 10)},
		client.CreateOrderJSONRequestBody{
			Lines: []client.CreateOrderLine{{Service: ServiceA, Agency: AgencyA, Amount: fee},
				{Service: ServiceB, Agency: AgencyB, Amount: charge}},
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
	gateway := r.Gateway
	started, err := d.API.StartAttemptWithResponse(context.Background(), o.Id,
		client.StartAttemptJSONRequestBody{Method: client.StartAttemptMethod(r.Method), Gateway: &gateway})
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
	answered := d.callbacks.expect(a.GatewayRef)
	defer d.callbacks.forget(a.GatewayRef)
	pay := fmt.Sprintf(`{"gateway":%q,"pay_url":%q,"outcome":"success"}`, a.Gateway, redirect)
	if err := d.Call(d.SimURL+"/admin/pay", pay, http.StatusOK, nil); err != nil {
		return "", fmt.Errorf("pay at %s: %w", a.Gateway, err)
	}
	select {
	case <-answered:
		return o.Id.String(), nil
	case <-time.After(5 * time.Second): // the callback was lost or refused: is the order paid anyway?
		return o.Id.String(), d.waitPaid(o.Id.String())
	}
}

// waitPaid polls the order in the database for a while, in case the
// callback had to be retried or the status job pays it.
func (d *Driver) waitPaid(orderID string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var status string
		if err := d.Pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE id = $1`, orderID).Scan(&status); err != nil {
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
// payment entry in the ledger: the payments that really completed. Each
// order's entries are found by their reference (order:<id>/…) in the
// reference index, one probe per month's partition, so the count costs the
// same beside a year of entries as on an empty ledger. (It used to read the
// entries effective since the load began and join them to the orders; on a
// year's current partition, whose statistics did not yet count the load's
// rows, the planner took that range for a hundred rows and probed it once
// per order: 12–40 s per load at 10,000,000 orders, against 1.3 s now.)
func (d *Driver) paidOnce(ctx context.Context, ids []string) (int, error) {
	var n int
	err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM unnest($1::uuid[]) AS i(id) JOIN orders o ON o.id = i.id
		WHERE o.status = 'paid' AND (SELECT count(*) FROM ledger_entries e WHERE e.kind = 'payment'
			AND e.reference COLLATE "C" >= 'order:' || i.id || '/' AND e.reference COLLATE "C" < 'order:' || i.id || '0') = 1`,
		ids).Scan(&n)
	return n, err
}

// Call POSTs body to url (the simulator's admin API) and decodes the JSON answer.
func (d *Driver) Call(url, body string, want int, out any) error {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(url)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	if err := d.Client.DoTimeout(req, res, 30*time.Second); err != nil {
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

// DuplicatePayments counts payment entries beyond one per order.
func DuplicatePayments(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT coalesce(sum(n - 1), 0) FROM (
		SELECT count(*) AS n FROM ledger_entries WHERE kind = 'payment' GROUP BY split_part(reference, '/', 1)) per_order`).Scan(&n)
	return n, err
}
