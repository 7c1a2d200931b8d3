package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// gate holds back the simulator's requests to one path until it is opened
// (or the caller gives up on the request), and says when the first arrived.
type gate struct {
	path      string
	arrived   chan struct{}
	release   chan struct{}
	arriveOne sync.Once
	openOne   sync.Once
}

func newGate(path string) *gate {
	return &gate{path: path, arrived: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == g.path {
			g.arriveOne.Do(func() { close(g.arrived) })
			select {
			case <-g.release:
			case <-r.Context().Done(): // civicpay gave up (its context was cancelled)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (g *gate) open() { g.openOne.Do(func() { close(g.release) }) }

// waitArrived waits for the first held request (a bound against a hang, not a timing).
func (g *gate) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-g.arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("no request to %s reached the simulator", g.path)
	}
}

// payableAttempt makes an order with a MoMo attempt that the simulated MoMo
// has paid without telling civicpay (callbacks dropped): only the status
// job's query can find out. It returns the order and attempt ids.
func payableAttempt(t *testing.T, e *apptest.Env, key string) (orderID, attemptID string) {
	t.Helper()
	if err := e.Sim.SetFaults("momo", gatewaysim.Faults{CallbackDropRate: 1}); err != nil {
		t.Fatal(err)
	}
	orderID, _ = newOrder(t, e, key)
	r := e.Do(t, "POST", "/v1/orders/"+orderID+"/attempts", e.Portal, `{"method":"ewallet","gateway":"momo"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("start attempt: %d %s", r.Status, r.Body)
	}
	var a struct {
		ID          string `json:"id"`
		RedirectURL string `json:"redirect_url"`
	}
	r.JSON(t, &a)
	if _, err := e.Sim.Pay(gatewaysim.PayRequest{Gateway: "momo", PayURL: a.RedirectURL, Outcome: gatewaysim.PaySuccess}); err != nil {
		t.Fatal(err)
	}
	return orderID, a.ID
}

// stopAsync shuts e down as SIGTERM does, in the background (Stop only
// reports with t.Error, which any goroutine may call).
func stopAsync(t *testing.T, e *apptest.Env) <-chan error {
	done := make(chan error, 1)
	go func() { done <- e.Stop(t) }()
	return done
}

// waitHTTPClosed waits until e's public port refuses connections: the
// shutdown has begun and stopped accepting.
func waitHTTPClosed(t *testing.T, e *apptest.Env) {
	t.Helper()
	addr := strings.TrimPrefix(e.URL, "http://")
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the HTTP server still accepts connections")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func orderAndAttempt(t *testing.T, e *apptest.Env, orderID, attemptID string) (order, attempt string) {
	t.Helper()
	if err := e.Pool.QueryRow(context.Background(), `SELECT o.status, a.status FROM orders o JOIN payment_attempts a
		ON a.order_id = o.id WHERE o.id = $1 AND a.id = $2`, orderID, attemptID).Scan(&order, &attempt); err != nil {
		t.Fatal(err)
	}
	return order, attempt
}

// logged are e's log records with message msg.
func logged(t *testing.T, e *apptest.Env, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range e.Logs(t) {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// TestShutdownLetsRunningJobsFinish: a status job is waiting for the
// gateway's answer when SIGTERM comes. It is not cancelled: once the HTTP
// server has drained, River waits for it, the answer comes, the order is
// paid, and Run returns.
func TestShutdownLetsRunningJobsFinish(t *testing.T) {
	t.Parallel()
	g := newGate("/momo" + momo.QueryPath)
	e := apptest.NewWithSimHandler(t, g.wrap, func(c *config.Config) {
		c.Paying.StatusPollDelay = 100 * time.Millisecond
		c.JobsStopTimeout = time.Minute
	})
	t.Cleanup(g.open)
	orderID, attemptID := payableAttempt(t, e, "lifecycle-finish")
	g.waitArrived(t) // the status job is running, waiting for MoMo

	stopped := stopAsync(t, e)
	waitHTTPClosed(t, e)
	g.open() // MoMo answers only now, after the shutdown began
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if o, a := orderAndAttempt(t, e, orderID, attemptID); o != "paid" || a != "succeeded" {
		t.Fatalf("after shutdown: order %s, attempt %s; want paid, succeeded (the running job was cut)", o, a)
	}
	if l := logged(t, e, "job cancelled at shutdown"); len(l) != 0 {
		t.Fatalf("jobs cancelled: %v", l)
	}
}

// TestShutdownCancelsHangingJobs: a status job whose gateway never answers
// is cancelled once JobsStopTimeout is over, logged by kind and id, left to
// run again, and Run returns.
func TestShutdownCancelsHangingJobs(t *testing.T) {
	t.Parallel()
	g := newGate("/momo" + momo.QueryPath)
	e := apptest.NewWithSimHandler(t, g.wrap, func(c *config.Config) {
		c.Paying.StatusPollDelay = 100 * time.Millisecond
		c.Paying.GatewayTimeout = time.Hour // MoMo hangs: only the shutdown ends the call
		c.JobsStopTimeout = 200 * time.Millisecond
	})
	t.Cleanup(g.open)
	orderID, attemptID := payableAttempt(t, e, "lifecycle-hang")
	g.waitArrived(t)

	if err := e.Stop(t); err != nil { // Stop fails the test if Run does not return
		t.Fatalf("Run: %v", err)
	}
	// Other jobs (the ledger's and reconciliation's jobs run at start) may
	// still be running too on a slow machine: only the status job is sure to.
	summary := logged(t, e, "jobs still running at the end of the stop timeout: cancelling them")
	if len(summary) != 1 {
		t.Fatalf("summary of the cancelled jobs: %v", summary)
	}
	if kinds, _ := summary[0]["kinds"].(map[string]any); kinds["payments.attempt_status"] != 1.0 {
		t.Fatalf("summary of the cancelled jobs: %v", summary)
	}
	var cancelled []map[string]any
	for _, l := range logged(t, e, "job cancelled at shutdown") {
		if l["kind"] == "payments.attempt_status" && l["job_id"] != nil {
			cancelled = append(cancelled, l)
		}
	}
	if len(cancelled) != 1 {
		t.Fatalf("cancelled status jobs logged: %v (all: %v)", cancelled, logged(t, e, "job cancelled at shutdown"))
	}
	if o, a := orderAndAttempt(t, e, orderID, attemptID); o != "open" || a != "pending" {
		t.Fatalf("after shutdown: order %s, attempt %s; want open, pending", o, a)
	}
	var state string
	if err := e.Pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE kind = 'payments.attempt_status'
		AND args->>'attempt_id' = $1`, attemptID).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "scheduled" && state != "retryable" && state != "available" {
		t.Fatalf("the cancelled status job is %s; want it to run again", state)
	}
}

// failingListener accepts nothing: its Accept fails at once, for good.
type failingListener struct{ net.Listener }

func (failingListener) Accept() (net.Conn, error) { return nil, errors.New("simulated accept failure") }

// TestListenerFailureStopsRiver: when the HTTP listener fails, Run returns
// its error only after stopping River (and everything else), not leaving
// River's workers running in a process that no longer serves.
func TestListenerFailureStopsRiver(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	a, err := appNew(t, e.App.Config, e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.River.StopAndCancel(context.Background()) }) // if Run left it running
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background(), failingListener{inner}, metricsLn) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its listener failed")
	}
	if err == nil || !strings.Contains(err.Error(), "simulated accept failure") {
		t.Fatalf("Run = %v, want the listener's error", err)
	}
	select {
	case <-a.River.Stopped():
	default:
		t.Fatal("Run returned with River still running")
	}
	if c, err := net.DialTimeout("tcp", metricsLn.Addr().String(), time.Second); err == nil {
		_ = c.Close()
		t.Fatal("the metrics listener still accepts connections")
	}
}

// TestShutdownLogsCutRequests: a request still running when the grace is
// over is logged — method, route pattern and request id, never its path
// (which carries the order id) — and counted by route.
func TestShutdownLogsCutRequests(t *testing.T) {
	t.Parallel()
	g := newGate("/momo" + momo.CreatePath)
	e := apptest.NewWithSimHandler(t, g.wrap, func(c *config.Config) { c.ShutdownGrace = 200 * time.Millisecond })
	t.Cleanup(g.open)
	orderID, _ := newOrder(t, e, "lifecycle-cut")
	reqDone := make(chan struct{})
	go func() {
		defer close(reqDone)
		req, _ := http.NewRequest("POST", e.URL+"/v1/orders/"+orderID+"/attempts",
			strings.NewReader(`{"method":"ewallet","gateway":"momo"}`))
		req.Header.Set("Authorization", "Bearer "+e.Portal)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-ID", "cut-request-1")
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = res.Body.Close()
		}
	}()
	g.waitArrived(t) // the request waits for MoMo to create the payment

	err := e.Stop(t)
	g.open()
	<-reqDone
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want the HTTP shutdown's deadline", err)
	}
	cut := logged(t, e, "request cut at shutdown")
	if len(cut) != 1 || cut[0]["method"] != "POST" || cut[0]["route"] != "/v1/orders/:id/attempts" ||
		cut[0]["request_id"] != "cut-request-1" {
		t.Fatalf("cut requests logged: %v", cut)
	}
	summary := logged(t, e, "requests cut at shutdown: still running at the end of the grace")
	if len(summary) != 1 || summary[0]["count"] != 1.0 ||
		fmt.Sprint(summary[0]["routes"]) != "map[POST /v1/orders/:id/attempts:1]" {
		t.Fatalf("summary of the cut requests: %v", summary)
	}
	for _, r := range append(cut, summary...) { // the shutdown's own lines name routes, not orders
		if strings.Contains(fmt.Sprint(r), orderID) {
			t.Fatalf("a log line names the order id: %v", r)
		}
	}
}
