package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestReportsReadTheReplicaWithinTheBound runs civicpay on a private primary
// with a real streaming replica (pg_basebackup -R, started by pg.sh) as
// DATABASE_READ_URL. With the replica's replay paused, an order created
// after the pause:
//   - is read back at once by GET /v1/orders/{id}, which reads the primary
//     (a read after a write);
//   - is missing from GET /v1/orders, a report, on an instance whose bound
//     (1 h) the replica is within: the list came from the replica;
//   - is in the list on an instance whose bound is 1 s once the replica has
//     fallen that far behind: reports went back to the primary, and it said so.
//
// After replay resumes, the first instance's list has it too.
func TestReportsReadTheReplicaWithinTheBound(t *testing.T) {
	t.Parallel()
	e, pair := apptest.NewReplicated(t, func(c *config.Config) { c.ReadMaxLag = time.Hour })
	strict := e.Another(t, func(c *config.Config) { c.ReadMaxLag = time.Second })
	ctx := context.Background()

	create := func(idem string) string {
		t.Helper()
		r := e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":120000}],
			"payer":{"name":"Phạm Minh Đức","phone":"0987654321"},"description":"replica"}`, "Idempotency-Key", idem)
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var o struct{ ID string }
		r.JSON(t, &o)
		return o.ID
	}
	listed := func(env *apptest.Env, id string) bool {
		t.Helper()
		r := env.Do(t, "GET", "/v1/orders?limit=100", env.Portal, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		return strings.Contains(string(r.Body), id)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 20 s", what)
			}
		}
	}

	first := create("replica-1")
	eventually("the first order on the replica's list", func() bool { return listed(e, first) })

	admin, err := pgx.Connect(ctx, pair.ReplicaAdmin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if _, err := admin.Exec(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()

	second := create("replica-2")
	if r := e.Do(t, "GET", "/v1/orders/"+second, e.Portal, nil); r.Status != http.StatusOK {
		t.Fatalf("the order just created, read back: %d (a read after a write must read the primary)", r.Status)
	}
	if listed(e, second) {
		t.Fatal("the list shows the order created after the replica's replay was paused: it did not come from the replica")
	}
	eventually("the strict instance's list (back on the primary) shows it", func() bool { return listed(strict, second) })
	if len(logged(t, strict, "db: reports read the primary: the replica is behind or not answering")) == 0 {
		t.Error("the strict instance did not log that reports went back to the primary")
	}

	resume()
	eventually("the first instance's list after replay resumed", func() bool { return listed(e, second) })
}
