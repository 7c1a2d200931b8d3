package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestEvaluate plants each kind of loss and doubling in otherwise clean
// facts and checks the verdict names it, once.
func TestEvaluate(t *testing.T) {
	t.Parallel()
	const prefix = "chaos-x-kill9-"
	type facts struct {
		pays     []*payment
		orders   []orderFacts
		attempts []attemptFacts
		sim      map[gwRef]string
	}
	clean := func() facts {
		return facts{
			pays: []*payment{
				{key: prefix + "1", orderIDs: []string{"o1"}, gateway: "momo", ref: "r1", payCalled: true, simStatus: "succeeded"},
				// given up before paying: an open order, nothing else
				{key: prefix + "2", orderIDs: []string{"o2"}},
				// created without an answer, never retried to success: no order at all
				{key: prefix + "3", createNetErr: true},
			},
			orders: []orderFacts{
				{ID: "o1", Key: prefix + "1", Status: "paid", Entries: 1, Webhooks: 1, Events: 1, Succeeded: 1, Payments: 1},
				{ID: "o2", Key: prefix + "2", Status: "open"},
			},
			attempts: []attemptFacts{{OrderID: "o1", Gateway: "momo", Ref: "r1", Status: "succeeded", Outcome: "payment"}},
			sim:      map[gwRef]string{{"momo", "r1"}: "succeeded"},
		}
	}
	for _, tc := range []struct {
		name          string
		plant         func(f *facts)
		lost, doubled int
		why           string
	}{
		{name: "clean", plant: func(*facts) {}},
		{name: "confirmed at the gateway, attempt pending", lost: 1, why: "attempt still pending", plant: func(f *facts) {
			f.attempts[0].Status, f.attempts[0].Outcome = "pending", ""
			f.orders[0] = orderFacts{ID: "o1", Key: prefix + "1", Status: "open"}
		}},
		{name: "confirmed at the gateway, no attempt", lost: 1, why: "no such attempt", plant: func(f *facts) {
			f.attempts = nil
			f.orders[0] = orderFacts{ID: "o1", Key: prefix + "1", Status: "open"}
		}},
		{name: "attempt succeeded, order open", lost: 1, why: "order open", plant: func(f *facts) {
			f.orders[0] = orderFacts{ID: "o1", Key: prefix + "1", Status: "open", Succeeded: 1}
		}},
		{name: "answered 2xx, order missing", lost: 1, why: "not in the database", plant: func(f *facts) {
			f.orders = f.orders[:1]
		}},
		{name: "paid without its ledger entry", lost: 1, why: "payment ledger entry", plant: func(f *facts) { f.orders[0].Entries = 0 }},
		{name: "paid without its webhook event", lost: 1, why: "order.paid webhook event", plant: func(f *facts) { f.orders[0].Webhooks = 0 }},
		{name: "two ledger entries", doubled: 1, why: "2 × payment ledger entry", plant: func(f *facts) { f.orders[0].Entries = 2 }},
		{name: "two webhook events", doubled: 1, why: "2 × order.paid webhook event", plant: func(f *facts) { f.orders[0].Webhooks = 2 }},
		{name: "two history rows", doubled: 1, why: "2 × order.paid history row", plant: func(f *facts) { f.orders[0].Events = 2 }},
		{name: "ledger entry for an open order", doubled: 1, why: "open order with 1 × payment ledger entry", plant: func(f *facts) { f.orders[1].Entries = 1 }},
		{name: "paid in civicpay, not at the gateway", doubled: 1, why: "not at the gateway", plant: func(f *facts) {
			f.sim[gwRef{"momo", "r1"}] = "pending"
		}},
		{name: "second attempt succeeded", doubled: 1, why: "not at the gateway", plant: func(f *facts) {
			f.attempts = append(f.attempts, attemptFacts{OrderID: "o1", Gateway: "zalopay", Ref: "r9", Status: "succeeded", Outcome: "overpayment"})
			f.orders[0].Succeeded = 2
		}},
		{name: "one key, two ids", doubled: 1, lost: 1, why: "two order ids", plant: func(f *facts) {
			f.pays[1].orderIDs = append(f.pays[1].orderIDs, "o9")
		}},
		{name: "order under a key nobody sent", doubled: 1, why: "no client sent", plant: func(f *facts) {
			f.orders = append(f.orders, orderFacts{ID: "o7", Key: prefix + "7", Status: "open"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := clean()
			tc.plant(&f)
			got := evaluate(f.pays, f.orders, f.attempts, f.sim, prefix)
			if len(got.lost) != tc.lost || len(got.doubled) != tc.doubled {
				t.Fatalf("lost %v, doubled %v; want %d lost, %d doubled", got.lost, got.doubled, tc.lost, tc.doubled)
			}
			if tc.why == "" {
				return
			}
			all := strings.Join(append(reasons(got.lost), reasons(got.doubled)...), "; ")
			if !strings.Contains(all, tc.why) {
				t.Fatalf("reasons %q do not say %q", all, tc.why)
			}
		})
	}
}

// TestBalancer: a request whose connection cannot be opened goes to the
// next instance; one that reached an instance which then died is answered
// 502 and never sent to another (the gateway retries it).
func TestBalancer(t *testing.T) {
	t.Parallel()
	var live atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		live.Add(1)
		_, _ = w.Write(append([]byte("ok "), body...))
	}))
	defer up.Close()
	dead, err := freeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	cut, err := net.Listen("tcp", "127.0.0.1:0") // reads the request, then closes without answering
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	go func() {
		for {
			c, err := cut.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 4096))
			c.Close()
		}
	}()
	liveAddr := strings.TrimPrefix(up.URL, "http://")
	post := func(b *balancer) (int, string) {
		t.Helper()
		srv := httptest.NewServer(b)
		defer srv.Close()
		res, err := http.Post(srv.URL+"/callbacks/momo", "application/json", strings.NewReader("ipn"))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out)
	}

	b := newBalancer()
	b.set(dead, liveAddr)
	for range 2 { // both turns: the dead instance first, then the live one first
		if status, body := post(b); status != http.StatusOK || body != "ok ipn" {
			t.Fatalf("dead then live: %d %q, want 200 from the live instance", status, body)
		}
	}
	if n := live.Load(); n != 2 {
		t.Fatalf("live instance got %d requests, want 2", n)
	}

	b = newBalancer()
	b.set(cut.Addr().String(), liveAddr)
	if status, _ := post(b); status != http.StatusBadGateway {
		t.Fatalf("cut by the instance: status %d, want 502", status)
	}
	if n := live.Load(); n != 2 {
		t.Fatalf("a request cut after it was sent went to another instance too (%d requests there)", n)
	}
	if _, _, _, failed, _ := b.resetStats(); failed != 1 {
		t.Fatalf("failed %d, want 1", failed)
	}

	b = newBalancer()
	b.set(dead)
	if status, _ := post(b); status != http.StatusBadGateway {
		t.Fatalf("no instance: status %d, want 502", status)
	}
}

// TestExpected5xx: only the answers a fault makes expected are excused.
func TestExpected5xx(t *testing.T) {
	t.Parallel()
	expect := map[string]expectFunc{}
	for _, s := range scenarios {
		expect[s.name] = s.expect
	}
	unavailable := []byte(`{"type":"https://civicpay.dev/problems/gateway-unavailable","title":"Gateway unavailable","status":503}`)
	internal := []byte(`{"title":"Internal error","status":500}`)
	dbGone := []byte(`{"title":"Service unavailable","status":503}`)
	for _, tc := range []struct {
		scenario, route string
		status          int
		body            []byte
		unexpected      int
	}{
		{"gatewaysdown", routeAttempt, 503, unavailable, 0},
		{"gatewaysdown", routeAttempt, 500, internal, 1},
		{"gatewaysdown", routeCreate, 503, unavailable, 1},
		{"gatewaysdown", routeAttempt, 503, dbGone, 1},
		{"dbbackends", routeCreate, 503, dbGone, 0},
		{"dbbackends", routeAttempt, 500, internal, 1},
		{"kill9", routeAttempt, 503, unavailable, 1},
		{"kill9", routeCreate, 201, nil, 0},
		{"sigterm", routeCreate, 502, nil, 1},
	} {
		tl := newTally(expect[tc.scenario])
		tl.answer(tc.route, tc.status, tc.body)
		if u, _ := tl.counts(); u != tc.unexpected {
			t.Errorf("%s: %s %d %s: %d unexpected, want %d", tc.scenario, tc.route, tc.status, tc.body, u, tc.unexpected)
		}
	}
}

// TestRecovery: recovery counts only payments started after the fault's
// end, and "every gateway" waits for the slowest.
func TestRecovery(t *testing.T) {
	t.Parallel()
	end := time.Now()
	l := &load{}
	l.faultEnd.Store(end.UnixNano())
	done := func(gateway string, started, completed time.Duration) {
		l.completed(&payment{gateway: gateway, attemptAt: end.Add(started), doneAt: end.Add(completed)})
	}
	done("vnpay", -time.Second, 10*time.Millisecond) // started before the end: not a recovery
	if first, all, _ := l.recovery(); first != -1 || all != -1 {
		t.Fatalf("after a payment started before the end: %s, %s; want -1, -1", first, all)
	}
	done("momo", 100*time.Millisecond, 900*time.Millisecond)
	done("momo", 200*time.Millisecond, 500*time.Millisecond) // seen later, completed earlier
	done("vnpay", 100*time.Millisecond, 2*time.Second)
	if first, all, _ := l.recovery(); first != 500*time.Millisecond || all != -1 {
		t.Fatalf("before zalopay: %s, %s; want 500ms, -1", first, all)
	}
	done("zalopay", time.Second, 3*time.Second)
	first, all, per := l.recovery()
	if first != 500*time.Millisecond || all != 3*time.Second || per["vnpay"] != 2*time.Second {
		t.Fatalf("got %s, %s, %v; want 500ms, 3s, vnpay 2s", first, all, per)
	}
}

// TestSmoke runs the suite briefly — two scenarios with a few clients —
// to try a change to the suite without the whole run. It builds both
// binaries and starts processes (about a minute on a busy 2-core machine),
// too long for `make test`: it runs with BENCHCHAOS_SMOKE=1. Its numbers
// mean nothing at this size.
func TestSmoke(t *testing.T) {
	if os.Getenv("BENCHCHAOS_SMOKE") == "" {
		t.Skip("set BENCHCHAOS_SMOKE=1 to build and run civicpay and gatewaysim (make bench BENCH=chaos runs the whole suite)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := options{workers: 4, warm: 500 * time.Millisecond, window: 10 * time.Second, steady: 200 * time.Millisecond,
		settle: 30 * time.Second, burst: 20, down: 2 * time.Second, scenarios: []string{"kill9", "idemburst"}}
	if _, err := run(ctx, o, time.Second, false); err != nil {
		t.Fatal(err)
	}
}
