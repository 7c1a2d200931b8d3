package gatewaysim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/gateways/zalopay"
	"github.com/shopspring/decimal"
)

// clock is a test clock: a fixed start that moves with real time, and can
// be moved on by whole days.
type clock struct {
	mu     sync.Mutex
	start  time.Time
	real   time.Time
	offset time.Duration
}

// day0 is 2026-11-23 10:00 GMT+7, the business day the tests pay on.
var day0 = time.Date(2026, time.November, 23, 10, 0, 0, 0, ICT)

func newClock() *clock { return &clock{start: day0, real: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start.Add(time.Since(c.real) + c.offset).UTC()
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// callback is one callback the receiver got, as the adapter read it.
type callback struct {
	res gateways.Result
	err error
}

// receiver plays civicpay's callback endpoints with the real adapters:
// /callbacks/{gateway} parses with ParseCallback and answers with Reply.
type receiver struct {
	t     testing.TB
	srv   *httptest.Server
	mu    sync.Mutex
	got   map[string][]callback
	fails atomic.Int64 // answer this many callbacks with AckError first
	adapt map[string]gateways.Gateway
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t, got: map[string][]callback{}, adapt: map[string]gateways.Gateway{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/callbacks/")
	rc.mu.Lock()
	a := rc.adapt[name]
	rc.mu.Unlock()
	if !ok || a == nil {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	res, err := a.ParseCallback(gateways.CallbackRequest{Method: r.Method, Query: r.URL.Query(), Header: r.Header, Body: body})
	ack := gateways.AckOK
	switch {
	case errors.Is(err, gateways.ErrBadSignature):
		ack = gateways.AckBadSignature
	case err != nil:
		ack = gateways.AckError
	case rc.fails.Add(-1) >= 0:
		ack = gateways.AckError
	}
	rc.mu.Lock()
	rc.got[name] = append(rc.got[name], callback{res, err})
	rc.mu.Unlock()
	status, ct, out := a.Reply(ack)
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

func (rc *receiver) callbacks(gateway string) []callback {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]callback(nil), rc.got[gateway]...)
}

// env is a simulator on a real HTTP server, a receiver, and the adapters
// configured for both.
type env struct {
	t     *testing.T
	clock *clock
	sim   *Sim
	srv   *httptest.Server
	admin *Client
	recv  *receiver
	gw    map[string]gateways.Gateway
	seq   atomic.Int64
}

// newEnv starts everything; change adjusts the configuration.
func newEnv(t *testing.T, change ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), recv: newReceiver(t), gw: map[string]gateways.Gateway{}}
	cfg := DemoConfig(e.recv.srv.URL)
	cfg.Now = e.clock.Now
	cfg.Callbacks.Backoff = time.Millisecond
	cfg.Callbacks.Timeout = 2 * time.Second
	for _, c := range change {
		c(&cfg)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.sim = sim
	e.srv = httptest.NewServer(sim.Handler())
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Error(err)
		}
		if n := sim.panics.Load(); n != 0 {
			t.Errorf("%d handler panics", n)
		}
	})
	e.admin = &Client{BaseURL: e.srv.URL, Timeout: 10 * time.Second}
	e.gw[VNPAY] = e.vnpay(time.Second)
	e.gw[MoMo] = e.momo(time.Second)
	e.gw[ZaloPay] = e.zalopay(time.Second)
	e.recv.mu.Lock()
	for name, g := range e.gw {
		e.recv.adapt[name] = g
	}
	e.recv.mu.Unlock()
	return e
}

// must(f())(t) is f's value, or the end of the test when f failed.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// check ends the test on an error.
func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) vnpay(timeout time.Duration) *vnpay.Adapter {
	c := e.sim.cfg.VNPAY
	return must(vnpay.New(vnpay.Config{BaseURL: e.srv.URL + "/vnpay", TmnCode: c.TmnCode, HashSecret: c.HashSecret,
		Timeout: timeout}, nil))(e.t)
}

func (e *env) momo(timeout time.Duration) *momo.Adapter {
	c := e.sim.cfg.MoMo
	return must(momo.New(momo.Config{BaseURL: e.srv.URL + "/momo", PartnerCode: c.PartnerCode, AccessKey: c.AccessKey,
		SecretKey: c.SecretKey, Timeout: timeout}, nil))(e.t)
}

func (e *env) zalopay(timeout time.Duration) *zalopay.Adapter {
	c := e.sim.cfg.ZaloPay
	return must(zalopay.New(zalopay.Config{BaseURL: e.srv.URL + "/zalopay", AppID: c.AppID, Key1: c.Key1, Key2: c.Key2,
		Timeout: timeout}, nil))(e.t)
}

// adapter returns gateway's adapter with its own call timeout.
func (e *env) adapter(gateway string, timeout time.Duration) gateways.Gateway {
	switch gateway {
	case VNPAY:
		return e.vnpay(timeout)
	case MoMo:
		return e.momo(timeout)
	}
	return e.zalopay(timeout)
}

var methods = map[string]gateways.Method{VNPAY: gateways.MethodQR, MoMo: gateways.MethodEwallet, ZaloPay: gateways.MethodEwallet}

// attempt is one payment attempt made through an adapter.
type attempt struct {
	gateway string
	req     gateways.CreateRequest
	res     gateways.CreateResult
}

// create starts an attempt of amount VND through gateway's adapter.
func (e *env) create(gateway string, amount int64) attempt {
	e.t.Helper()
	n := e.seq.Add(1)
	now := e.clock.Now()
	req := gateways.CreateRequest{
		AttemptRef: fmt.Sprintf("AT%s%06d", strings.ToUpper(gateway[:2]), n), PaymentRef: "RF18539007547034",
		Amount: decimal.NewFromInt(amount), Currency: "VND", Description: "Lệ phí cấp phiếu lý lịch tư pháp",
		Method: methods[gateway], ReturnURL: e.recv.srv.URL + "/return?order=1",
		CallbackURL: e.recv.srv.URL + "/callbacks/" + gateway, ClientIP: "203.0.113.7", Locale: "vi",
		CreatedAt: now, ExpiresAt: now.Add(20 * time.Minute),
	}
	res := must(e.gw[gateway].Create(context.Background(), req))(e.t)
	return attempt{gateway, req, res}
}

// pay completes an attempt through the admin API.
func (e *env) pay(a attempt, outcome string) PayResult {
	e.t.Helper()
	return must(e.admin.Pay(context.Background(), PayRequest{Gateway: a.gateway, PayURL: a.res.RedirectURL, Outcome: outcome}))(e.t)
}

// waitCallbacks waits for the simulator to finish sending.
func (e *env) waitCallbacks() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sim.WaitCallbacks(ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) query(a attempt) gateways.Result {
	e.t.Helper()
	return must(e.gw[a.gateway].Query(context.Background(), gateways.QueryRequest{GatewayRef: a.res.GatewayRef,
		CreatedAt: a.req.CreatedAt}))(e.t)
}

// refundReq is a refund of amount of a succeeded attempt.
func refundReq(a attempt, txnID, ref string, amount int64, at time.Time) gateways.RefundRequest {
	return gateways.RefundRequest{RefundRef: ref, GatewayRef: a.res.GatewayRef, GatewayTxnID: txnID,
		Amount: decimal.NewFromInt(amount), OriginalAmount: a.req.Amount, Reason: "Hoàn phí nộp trùng",
		CreatedAt: at, OriginalCreatedAt: a.req.CreatedAt}
}

func (e *env) transaction(a attempt) Transaction {
	e.t.Helper()
	return must(e.sim.Transaction(a.gateway, a.res.GatewayRef))(e.t)
}
