package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/civicpay/civicpay/internal/testkit/benchutil"
)

// options bound the suite's time and size.
type options struct {
	workers   int           // clients paying back to back (payments in flight)
	warm      time.Duration // load before the fault
	window    time.Duration // longest wait after the fault for payments to flow again on every gateway
	steady    time.Duration // load kept on once they do
	settle    time.Duration // longest wait for confirmed payments to be recorded after the load
	burst     int           // requests in the idempotency burst
	down      time.Duration // how long kill9 leaves civicpay down
	scenarios []string
}

// scenario is one fault under load. fault runs it and returns when it
// ended (recovery is measured from then); done, if set, waits for what the
// fault left running in the background (a delayed restart).
type scenario struct {
	name   string
	two    bool // two instances, the client round-robin over both
	expect expectFunc
	fault  func(ctx context.Context, h *harness, l *load, o options) (end time.Time, done func(), err error)
}

var scenarios = []scenario{
	{name: "kill9", fault: kill9},
	{name: "twoinstances", two: true, fault: killOneOfTwo},
	{name: "dbbackends", fault: terminateBackends,
		// A lost database connection is temporary: 503 (with Retry-After) is
		// the answer; a 500 is not.
		expect: func(_ string, status int, _ string) bool { return status == http.StatusServiceUnavailable }},
	{name: "gatewaysdown", fault: gatewaysDown,
		expect: func(route string, status int, title string) bool {
			return route == routeAttempt && status == http.StatusServiceUnavailable && title == "Gateway unavailable"
		}},
	{name: "sigterm", fault: sigterm},
	{name: "idemburst", fault: idemBurst},
}

// kill9: kill -9 of the only instance under load, restarted o.down later.
// The default 8 s outlasts the simulator's callback retries (1 + 2 + 4 s):
// payments confirmed at the gateway around the kill then reach civicpay
// only through its status jobs, which need River's periodic sweep on the
// restarted process. The kill lands while that sweep (a River job) is
// running, if it runs within 5 s: the moment a crash strands background
// work. The fault ends at the restart.
func kill9(ctx context.Context, h *harness, l *load, o options) (time.Time, func(), error) {
	a := h.instances[0]
	job, err := h.db.runningJob(ctx, "payments.attempt_follow", 5*time.Second)
	if err != nil {
		return time.Time{}, nil, err
	}
	if job != 0 {
		benchutil.Progress("kill -9 civicpay a (pid %d) while its attempt-follow sweep (River job %d) runs", a.proc.cmd.Process.Pid, job)
	} else {
		benchutil.Progress("kill -9 civicpay a (pid %d) (no attempt-follow sweep seen running within 5 s)", a.proc.cmd.Process.Pid)
	}
	l.api.markCut(time.Now())
	a.proc.kill9()
	time.Sleep(o.down)
	if err := h.start(a); err != nil {
		return time.Time{}, nil, err
	}
	h.reportReady(a)
	benchutil.Progress("restarted civicpay a (pid %d)", a.proc.cmd.Process.Pid)
	return a.proc.started, nil, nil
}

// killOneOfTwo: two instances, the client round-robin over both and the
// callbacks through the balancer; a (the older, likely River's leader) is
// killed -9 and restarted 8 s later. The fault "ends" at the kill: with a
// second instance up, payments should not stop at all.
func killOneOfTwo(_ context.Context, h *harness, l *load, _ options) (time.Time, func(), error) {
	a := h.instances[0]
	benchutil.Progress("kill -9 civicpay a (pid %d); b (pid %d) stays", a.proc.cmd.Process.Pid, h.instances[1].proc.cmd.Process.Pid)
	l.api.markCut(time.Now())
	a.proc.kill9()
	end := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(8 * time.Second)
		if err := h.start(a); err != nil {
			trouble("restart civicpay a: %v", err)
			return
		}
		h.reportReady(a)
		benchutil.Progress("restarted civicpay a (pid %d)", a.proc.cmd.Process.Pid)
	})
	return end, wg.Wait, nil
}

// terminateBackends: every database backend of the service terminated
// (pg_terminate_backend), twice, 3 s apart. The fault ends at the second.
func terminateBackends(ctx context.Context, h *harness, _ *load, _ options) (time.Time, func(), error) {
	for i := range 2 {
		if i > 0 {
			time.Sleep(3 * time.Second)
		}
		n, err := h.db.terminateBackends(ctx)
		if err != nil {
			return time.Time{}, nil, err
		}
		benchutil.Progress("terminated %d database backends of the service (%d/2)", n, i+1)
	}
	return time.Now(), nil, nil
}

// gatewaysDown: every simulated gateway answers its API with 503 for 5 s
// (gatewaysim's error_rate 1; its pay pages and callbacks go on — VNPAY's
// create makes no call, so VNPAY attempts still start). The fault ends
// when the gateways answer again.
func gatewaysDown(ctx context.Context, h *harness, _ *load, _ options) (time.Time, func(), error) {
	benchutil.Progress("gateways down: VNPAY, MoMo and ZaloPay answer every API call 503 for 5 s")
	if err := h.sim.faults(ctx, map[string]any{"error_rate": 1}); err != nil {
		return time.Time{}, nil, err
	}
	time.Sleep(5 * time.Second)
	if err := h.sim.faults(ctx, nil); err != nil {
		return time.Time{}, nil, err
	}
	benchutil.Progress("gateways answer again")
	return time.Now(), nil, nil
}

// sigterm: the gateways slow (3–4 s per API call), so attempts are in
// flight; SIGTERM to the instance, which should finish them; restart once
// it has exited (at most 45 s) with the gateways fast again. The fault
// ends at the restart.
func sigterm(ctx context.Context, h *harness, l *load, _ options) (time.Time, func(), error) {
	if err := h.sim.faults(ctx, map[string]any{"latency_ms": 3000, "jitter_ms": 1000}); err != nil {
		return time.Time{}, nil, err
	}
	benchutil.Progress("gateways slow (3–4 s per call)")
	time.Sleep(3 * time.Second)
	a := h.instances[0]
	at := time.Now()
	l.api.markCut(at)
	benchutil.Progress("SIGTERM to civicpay a (pid %d)", a.proc.cmd.Process.Pid)
	if !a.proc.term(45 * time.Second) {
		trouble("civicpay a did not exit within 45 s of SIGTERM: killed")
	} else {
		benchutil.Progress("civicpay a exited %d ms after SIGTERM: %s", a.proc.exited.Sub(at).Milliseconds(), exitText(a.proc.err))
	}
	if err := h.sim.faults(ctx, nil); err != nil {
		return time.Time{}, nil, err
	}
	if err := h.start(a); err != nil {
		return time.Time{}, nil, err
	}
	h.reportReady(a)
	benchutil.Progress("restarted civicpay a (pid %d), gateways fast again", a.proc.cmd.Process.Pid)
	return a.proc.started, nil, nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// idemBurst: o.burst requests at once creating one order with one
// Idempotency-Key (same body), beside the load; the order is then paid
// like any other. The fault ends with the last answer.
func idemBurst(ctx context.Context, h *harness, l *load, o options) (time.Time, func(), error) {
	p := l.newPayment("burst")
	body := orderBody(0)
	hc := newHTTPClient(o.burst)
	a := &api{hc: hc, bases: l.api.bases, key: l.api.key, tally: l.api.tally}
	var (
		mu       sync.Mutex
		statuses = map[string]int{}
		ids      = map[string]bool{}
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for range o.burst {
		wg.Go(func() {
			<-start
			status, out, err := a.post(ctx, routeCreate, "/v1/orders", p.key, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				p.createNetErr = true
				statuses["network error"]++
				return
			}
			statuses[fmt.Sprint(status)]++
			if status == http.StatusCreated || status == http.StatusOK {
				var v struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(out, &v) == nil && v.ID != "" && !ids[v.ID] {
					ids[v.ID] = true
					p.orderIDs = append(p.orderIDs, v.ID)
				}
			}
		})
	}
	benchutil.Progress("%d requests at once with one Idempotency-Key", o.burst)
	t0 := time.Now()
	close(start)
	wg.Wait()
	end := time.Now()
	hc.CloseIdleConnections()
	var parts []string
	for s, n := range statuses {
		parts = append(parts, fmt.Sprintf("%s × %d", s, n))
	}
	sort.Strings(parts)
	benchutil.Progress("burst answered in %d ms: %s; %d distinct order id(s)", end.Sub(t0).Milliseconds(), strings.Join(parts, ", "), len(ids))
	if id := p.orderID(); id != "" {
		l.wg.Go(func() { l.payOrder(context.Background(), p, id, routes[0]) })
	}
	return end, nil, nil
}
