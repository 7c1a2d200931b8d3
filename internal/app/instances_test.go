package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/ledger"
)

// TestTwoInstancesShareTheWork: two `serve` processes on one database are a
// supported deployment. Orders are created through both, each citizen picks
// MoMo on either instance's pay page, and MoMo calls back (three copies at
// once) to the instance that started the attempt, since its notify URL
// travels in the create request. Both instances run River, the follow sweep
// and the group-commit writers. Every order ends paid exactly once: one
// succeeded attempt, one payment entry, the amount paid equal to the total;
// and ledger.Verify, the check behind `civicpay ledger verify`, finds nothing.
func TestTwoInstancesShareTheWork(t *testing.T) {
	t.Parallel()
	a := apptest.NewWithSim(t)
	b := a.Another(t)
	if err := a.Sim.SetFaults("momo", gatewaysim.Faults{CallbackCopies: 3, CallbackConcurrent: true}); err != nil {
		t.Fatal(err)
	}
	instances := []*apptest.Env{a, b}

	const n = 12
	type order struct{ ID, Reference string }
	orders := make([]order, n)
	for i := range orders {
		via := instances[i%2]
		r := via.Do(t, "POST", "/v1/orders", via.Portal, fmt.Sprintf(`{"lines":[{"service":"A-FINE","agency":"AG-A","amount":%d}],
			"payer":{"name":"Lê Văn Cường","phone":"0901234567"},"description":"two instances"}`, 100000+i*1000),
			"Idempotency-Key", fmt.Sprintf("two-instances-%d", i))
		if r.Status != http.StatusCreated {
			t.Fatalf("create through instance %d: %d %s", i%2, r.Status, r.Body)
		}
		r.JSON(t, &orders[i])
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, o := range orders {
		pay := instances[(i/2)%2] // not the creating instance for half of them
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := noRedirect.PostForm(pay.URL+"/pay/"+o.Reference, url.Values{"method": {"ewallet:momo"}})
			if err != nil {
				errs <- err
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				errs <- fmt.Errorf("pay page of %s on %s: %d", o.Reference, pay.URL, res.StatusCode)
				return
			}
			if _, err := a.Sim.Pay(gatewaysim.PayRequest{Gateway: "momo", PayURL: res.Header.Get("Location"), Outcome: gatewaysim.PaySuccess}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var paid int
		if err := a.Pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE status = 'paid'`).Scan(&paid); err != nil {
			t.Fatal(err)
		}
		if paid == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d orders paid after 30 s", paid, n)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, o := range orders {
		var attempts, entries int
		var exact bool
		if err := a.Pool.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM payment_attempts WHERE order_id = o.id AND status = 'succeeded'),
				(SELECT count(*) FROM ledger_entries WHERE kind = 'payment' AND reference LIKE 'order:' || o.id || '/%'),
				o.amount_paid = o.total
			FROM orders o WHERE o.id = $1`, o.ID).Scan(&attempts, &entries, &exact); err != nil {
			t.Fatal(err)
		}
		if attempts != 1 || entries != 1 || !exact {
			t.Errorf("order %s: %d succeeded attempts, %d ledger entries, paid = total %v; want 1, 1, true",
				o.Reference, attempts, entries, exact)
		}
	}
	// Both instances took callbacks (each is its own process: its own metrics).
	for i, in := range instances {
		m := regexp.MustCompile(`civicpay_http_requests_total\{[^}]*route="/callbacks/:gateway"[^}]*status="204"\} (\d+)`).
			FindSubmatch(in.Metrics(t).Body)
		if m == nil || string(m[1]) == "0" {
			t.Errorf("instance %d answered no callback", i)
		}
	}
	if rep, err := ledger.Verify(ctx, a.Pool); err != nil {
		t.Fatalf("ledger verify: %v (%+v)", err, rep)
	}
}
