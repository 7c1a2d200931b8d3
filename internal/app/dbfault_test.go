package app_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

const faultOrder = `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],"payer":{"name":"An","email":"an@example.vn"},"description":"d"}`

// retriesOf sums civicpay_db_retries_total{op} over every reason.
func retriesOf(t *testing.T, op string) float64 {
	t.Helper()
	var sum float64
	for _, reason := range []string{db.ReasonSerialization, db.ReasonDeadlock, db.ReasonConnect, db.ReasonTooManyConns,
		db.ReasonNotSent, db.ReasonConnLost, db.ReasonShutdown, db.ReasonTimeout, db.ReasonCanceled} {
		var m dto.Metric
		if err := metrics.DBRetries.WithLabelValues(op, reason).Write(&m); err != nil {
			t.Fatal(err)
		}
		sum += m.GetCounter().GetValue()
	}
	return sum
}

// temporary checks a response to a request met by a lost database: 503
// with Retry-After and a problem type saying whether to send it again;
// never a 500.
func temporary(t *testing.T, what string, r apptest.Response, types ...string) {
	t.Helper()
	var p problem.Problem
	r.JSON(t, &p)
	wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != http.StatusServiceUnavailable || err != nil || wait < 1 || !contains(types, p.Type) {
		t.Fatalf("%s: %d (Retry-After %q) %s, want 503 with Retry-After and a type of %v", what, r.Status,
			r.Header.Get("Retry-After"), r.Body, types)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLostDatabaseIs503ThenRecovers takes the database away from a running
// civicpay twice — every connection cut and new ones refused (a crashed or
// unreachable server), then every backend terminated (a restart, a
// failover, pg_terminate_backend) — and checks that requests meanwhile are
// answered 503 with Retry-After, never 500, and that civicpay serves again
// once the database is back, with nothing written twice.
func TestLostDatabaseIs503ThenRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var proxy *pgtest.Proxy
	e := apptest.NewWithPool(t, func(t testing.TB, url string) *pgxpool.Pool {
		proxy = pgtest.NewProxy(t, url)
		pool, err := db.Open(ctx, proxy.URL(url), db.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	})
	r := e.Do(t, "POST", "/v1/orders", e.Portal, faultOrder, "Idempotency-Key", "before")
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	var o struct{ ID string }
	r.JSON(t, &o)
	ordersWithKey := func(key string) int {
		var n int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE idempotency_key = $1`, key).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// recovered sends GET requests until one is answered 200, each meanwhile
	// 503 with Retry-After (a connection the pool still held may be met once).
	recovered := func(what string) {
		t.Helper()
		for i := 0; ; i++ {
			r := e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal, nil)
			if r.Status == http.StatusOK {
				return
			}
			temporary(t, what+": GET the order", r, problem.TypeTemporarilyUnavailable)
			if i == 20 {
				t.Fatalf("%s: still 503 after %d requests", what, i+1)
			}
		}
	}

	t.Run("unreachable", func(t *testing.T) {
		proxy.Cut()
		restored := false
		defer func() {
			if !restored {
				proxy.Restore(t)
			}
		}()
		authRetries := retriesOf(t, "auth.authenticate")
		temporary(t, "GET an order", e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal, nil), problem.TypeTemporarilyUnavailable)
		temporary(t, "POST an order with an Idempotency-Key", e.Do(t, "POST", "/v1/orders", e.Portal, faultOrder,
			"Idempotency-Key", "during"), problem.TypeTemporarilyUnavailable)
		// Without a key a write's outcome may be unknown (a connection cut
		// with the statement in flight); either way it is a 503.
		temporary(t, "POST a webhook endpoint", e.Do(t, "POST", "/v1/webhooks/endpoints", e.Portal,
			`{"url":"https://example.com/hook","events":["order.paid"]}`), problem.TypeTemporarilyUnavailable, problem.TypeOutcomeUnknown)
		// Every request's key lookup ran MaxTries times before giving up.
		if got := retriesOf(t, "auth.authenticate") - authRetries; got != 3*(db.MaxTries-1) {
			t.Fatalf("auth.authenticate retried %v times for 3 requests, want %d", got, 3*(db.MaxTries-1))
		}
		proxy.Restore(t)
		restored = true
		recovered("after the outage")
		if r := e.Do(t, "POST", "/v1/orders", e.Portal, faultOrder, "Idempotency-Key", "during"); r.Status != http.StatusCreated {
			t.Fatalf("the create refused during the outage, sent again = %d %s", r.Status, r.Body)
		}
		if n := ordersWithKey("during"); n != 1 {
			t.Fatalf("%d orders with the key sent during the outage, want 1", n)
		}
	})

	t.Run("backends terminated", func(t *testing.T) {
		admin, err := pgx.Connect(ctx, pgtest.ServerURL())
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		var terminated int
		if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
			FROM pg_stat_activity WHERE datname = $1`, e.Pool.Config().ConnConfig.Database).Scan(&terminated); err != nil {
			t.Fatal(err)
		}
		if terminated == 0 {
			t.Fatal("no backend of the app's database to terminate")
		}
		// The pool's connections are all dead; reads and idempotent writes
		// run again on new ones (db.Retry), the rest is a 503.
		authRetries, createRetries, unavailable := retriesOf(t, "auth.authenticate"), retriesOf(t, "orders.create"), 0
		for i := range 5 {
			key := "after-terminate-" + strconv.Itoa(i)
			r := e.Do(t, "POST", "/v1/orders", e.Portal, faultOrder, "Idempotency-Key", key)
			if r.Status != http.StatusCreated {
				temporary(t, "POST an order after the backends were terminated", r, problem.TypeTemporarilyUnavailable)
				unavailable++
			}
			if r := e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal, nil); r.Status != http.StatusOK {
				temporary(t, "GET the order after the backends were terminated", r, problem.TypeTemporarilyUnavailable)
				unavailable++
			}
		}
		recovered("after the backends were terminated")
		t.Logf("%d backends terminated: %d of 10 requests answered 503, the rest served; retried: %v key lookups, %v creates",
			terminated, unavailable, retriesOf(t, "auth.authenticate")-authRetries, retriesOf(t, "orders.create")-createRetries)
	})

	if m := e.Metrics(t); !strings.Contains(string(m.Body), `civicpay_db_retries_total{op="auth.authenticate"`) {
		t.Fatalf("/metrics does not show the retries:\n%s", m.Body)
	}
}
