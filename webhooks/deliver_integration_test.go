package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/clock"
)

// verifyWithLibrary checks a received request with the specification's own
// Go library, as a third-party receiver would.
func verifyWithLibrary(t *testing.T, secret string, r received) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("library rejects secret: %v", err)
	}
	return wh.Verify(r.Body, r.Header)
}

func TestDeliveryVerifiedBySpecLibrary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	rc := newReceiver(t, answer(http.StatusOK))
	agency := e.key(auth.RoleAgency, "AG-SPEC")
	ep := e.endpoint(agency, rc.url("/civicpay"), EventOrderPaid)
	e.start()

	ev := orderPaid("AG-SPEC", nil)
	id := e.publish(ev)
	e.eventually("delivery", func() bool { return rc.ok2xx()[id] == 1 })

	r := rc.requests()[0]
	if err := verifyWithLibrary(t, ep.Secret, r); err != nil {
		t.Fatalf("standard-webhooks library rejects the delivery: %v", err)
	}
	if r.id() != id || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers: webhook-id %q (want %q), content-type %q", r.id(), id, r.Header.Get("Content-Type"))
	}
	var body struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	if body.ID != id || body.Type != EventOrderPaid || body.Timestamp.IsZero() || !bytes.Equal(body.Data, ev.Data) {
		t.Fatalf("body = %s, want id %s, type order.paid, data %s", r.Body, id, ev.Data)
	}

	e.eventually("settled", e.settled)
	log, err := e.svc.Attempts(context.Background(), agency, ep.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Outcome != outcomeSucceeded || log[0].DeliveryState != stateSucceeded ||
		log[0].StatusCode == nil || *log[0].StatusCode != 200 || log[0].EventID != id {
		t.Fatalf("delivery log = %+v", log)
	}
}

func TestReceiverDownThenBack(t *testing.T) {
	t.Parallel()
	const events = 10
	e := newEnv(t, testConfig())
	var failures atomic.Int32
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) (int, string) {
		if failures.Load() < 2*events {
			failures.Add(1)
			return http.StatusServiceUnavailable, "down for maintenance"
		}
		return http.StatusOK, ""
	})
	agency := e.key(auth.RoleAgency, "AG-DOWN")
	ep := e.endpoint(agency, rc.url("/"), EventOrderPaid)
	var ids []string
	for range events {
		ids = append(ids, e.publish(orderPaid("AG-DOWN", nil)))
	}
	e.start()
	e.eventually("every delivery to finish", e.settled)

	got := rc.ok2xx()
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("event %s answered 2xx %d times, want exactly once", id, got[id])
		}
	}
	// Nothing was sent again after the 2xx: it is each id's last request.
	last := map[string]received{}
	for _, r := range rc.requests() {
		last[r.id()] = r
	}
	for id, r := range last {
		if r.Status != http.StatusOK {
			t.Errorf("event %s: last request answered %d, so it was sent again after its 2xx", id, r.Status)
		}
	}
	if n := e.count(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND state = 'succeeded'`, ep.ID); n != events {
		t.Errorf("%d deliveries succeeded, want %d", n, events)
	}
	if int(failures.Load()) != 2*events || len(rc.requests()) != 3*events {
		t.Errorf("receiver saw %d failures and %d requests, want %d and %d", failures.Load(), len(rc.requests()), 2*events, 3*events)
	}
	if n := e.count(`SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1`, ep.ID); n != 3*events {
		t.Errorf("delivery log has %d attempts, want %d", n, 3*events)
	}
}

// The delivering process dies while the receiver is holding the request: the
// job stays "running" in the database; another process rescues it and the
// event arrives with the same webhook-id.
func TestKilledMidDelivery(t *testing.T) {
	t.Parallel()
	cfg := killTestConfig()
	e := newEnv(t, cfg)
	holding := make(chan struct{})
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) (int, string) {
		if n == 0 {
			close(holding)
			<-r.Context().Done() // until the sender dies
			return http.StatusInternalServerError, ""
		}
		return http.StatusOK, ""
	})
	agency := e.key(auth.RoleAgency, "AG-KILL")
	ep := e.endpoint(agency, rc.url("/"), EventOrderPaid)
	id := e.publish(orderPaid("AG-KILL", nil))

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+e.dbURL)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start delivery process: %v", err)
	}
	select {
	case <-holding:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the delivery process never reached the receiver")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if n := e.count(`SELECT count(*) FROM river_job WHERE kind = 'webhooks.deliver' AND state = 'running'`); n != 1 {
		t.Fatalf("%d running jobs after the kill, want the 1 left behind", n)
	}

	// Once the job has outlived its timeout, a new leader's rescuer retries it.
	e.eventually("the job to look stuck", func() bool {
		return e.count(`SELECT count(*) FROM river_job WHERE state = 'running' AND attempted_at < now() - $1::interval`,
			cfg.jobTimeout()+500*time.Millisecond) == 1
	})
	e.startNewClient(cfg, func(c *river.Config) {
		c.JobTimeout = cfg.jobTimeout()
		c.RescueStuckJobsAfter = cfg.jobTimeout()
	})
	e.eventually("redelivery", func() bool { return rc.ok2xx()[id] == 1 })

	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(reqs))
	}
	if reqs[0].id() != id || reqs[1].id() != id {
		t.Fatalf("webhook-ids %q then %q, want %q both times", reqs[0].id(), reqs[1].id(), id)
	}
	if err := verifyWithLibrary(t, ep.Secret, reqs[1]); err != nil {
		t.Fatalf("redelivery does not verify: %v", err)
	}
	if !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Fatal("the redelivered body differs from the first")
	}
}

func TestAgencyIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ctx := context.Background()
	agencyA, agencyB := e.key(auth.RoleAgency, "AG-A"), e.key(auth.RoleAgency, "AG-B")
	portal1, portal2 := e.key(auth.RolePortal, ""), e.key(auth.RolePortal, "")
	treasury, admin := e.key(auth.RoleTreasury, ""), e.key(auth.RoleAdmin, "")
	revoked := e.key(auth.RoleAgency, "AG-A")
	all := []string{EventOrderPaid, EventReconciliationCompleted}
	receivers := map[string]*receiver{}
	subscribe := func(name string, p auth.Principal, events ...string) {
		receivers[name] = newReceiver(t, answer(http.StatusNoContent))
		e.endpoint(p, receivers[name].url(name), events...)
	}
	subscribe("agencyA", agencyA, all...)
	subscribe("agencyA-expired-only", agencyA, EventOrderExpired)
	subscribe("agencyB", agencyB, all...)
	subscribe("portal1", portal1, all...)
	subscribe("portal2", portal2, all...)
	subscribe("treasury", treasury, all...)
	subscribe("admin", admin, all...)
	subscribe("revoked", revoked, all...)
	if _, err := auth.NewStore(e.pool).Revoke(audit.System(ctx, "test"), revoked.Prefix); err != nil {
		t.Fatal(err)
	}
	e.start()

	paidA := e.publish(orderPaid("AG-A", &portal1.KeyID))
	paidB := e.publish(orderPaid("AG-B", &portal2.KeyID))
	recon := e.publish(Event{Type: EventReconciliationCompleted, Subject: "2025-01-31", Data: json.RawMessage(`{"day":"2025-01-31"}`)})
	// An agency's own view of an order several agencies share: its keys only.
	onlyB := orderPaid("AG-B", nil)
	onlyB.AgencyOnly = true
	viewB := e.publish(onlyB)
	e.eventually("deliveries", e.settled)

	want := map[string][]string{
		"agencyA":              {paidA},
		"agencyA-expired-only": nil,
		"agencyB":              {paidB, viewB},
		"portal1":              {paidA},
		"portal2":              {paidB},
		"treasury":             {paidA, paidB, recon},
		"admin":                {paidA, paidB, recon},
		"revoked":              nil,
	}
	for name, ids := range want {
		var got []string
		for id := range receivers[name].ok2xx() {
			got = append(got, id)
		}
		slices.Sort(got)
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("%s received %v, want %v", name, got, ids)
		}
	}
}

func TestPrivateAddressRefused(t *testing.T) {
	t.Parallel()
	t.Run("at save", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, strictConfig())
		p := e.key(auth.RoleAgency, "AG-SAVE")
		for _, u := range []string{"https://10.1.2.3/hook", "https://169.254.169.254/", "https://127.0.0.1/", "https://localhost/"} {
			_, err := e.svc.CreateEndpoint(context.Background(), p, EndpointInput{URL: u, Events: []string{EventOrderPaid}})
			var fe *ValidationError
			if !errors.As(err, &fe) || fe.Field != "url" || fe.Malformed {
				t.Errorf("create %s: %v, want a 422 on url", u, err)
			}
		}
		if n := e.count(`SELECT count(*) FROM webhook_endpoints`); n != 0 {
			t.Fatalf("%d endpoints stored", n)
		}
	})
	t.Run("at connect", func(t *testing.T) {
		t.Parallel()
		// Saved while loopback was allowed; delivered by a worker that refuses it
		// (as when DNS changes after the check, or the configuration does).
		e := newEnv(t, testConfig())
		rc := newReceiver(t, answer(http.StatusOK))
		ep := e.endpoint(e.key(auth.RoleAgency, "AG-DIAL"), rc.url("/"), EventOrderPaid)
		strict := testConfig()
		strict.AllowLoopback = false
		e.startNewClient(strict, nil)
		e.publish(orderPaid("AG-DIAL", nil))
		e.eventually("a refused attempt", func() bool {
			return e.count(`SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1 AND status_code IS NULL
				AND error LIKE '%127.0.0.1 is a loopback address%'`, ep.ID) > 0
		})
		if n := len(rc.requests()); n != 0 {
			t.Fatalf("the receiver got %d requests", n)
		}
	})
}

func TestTerminalResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		disable bool
	}{
		{"400 fails without retry", http.StatusBadRequest, false},
		{"410 disables the endpoint", http.StatusGone, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testConfig())
			ctx := context.Background()
			rc := newReceiver(t, answer(tt.status))
			admin := newReceiver(t, answer(http.StatusOK))
			e.endpoint(e.key(auth.RoleAdmin, ""), admin.url("/admin"), EventEndpointDisabled)
			owner := e.key(auth.RoleAgency, "AG-GONE")
			ep := e.endpoint(owner, rc.url("/"), EventOrderPaid)
			e.start()
			id := e.publish(orderPaid("AG-GONE", nil))
			e.eventually("the delivery to end", e.settled)

			if n := len(rc.requests()); n != 1 {
				t.Fatalf("receiver got %d requests, want 1 (no retry)", n)
			}
			if n := e.count(`SELECT count(*) FROM webhook_deliveries WHERE event_id = $1 AND state = 'failed'`, id); n != 1 {
				t.Fatalf("delivery not failed")
			}
			got, err := e.svc.Endpoint(ctx, owner, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Enabled == tt.disable || (tt.disable && !strings.Contains(got.DisabledReason, "410")) {
				t.Fatalf("endpoint enabled=%v reason=%q, want disabled=%v", got.Enabled, got.DisabledReason, tt.disable)
			}
			if !tt.disable {
				return
			}
			// Admins are told, and the endpoint gets nothing more.
			e.eventually("endpoint.disabled at the admin", func() bool { return len(admin.ok2xx()) == 1 })
			var note Envelope
			if err := json.Unmarshal(admin.requests()[0].Body, &note); err != nil || note.Type != EventEndpointDisabled ||
				!strings.Contains(string(note.Data), ep.ID.String()) || strings.Contains(string(note.Data), "whsec_") {
				t.Fatalf("admin got %s (%v)", admin.requests()[0].Body, err)
			}
			e.publish(orderPaid("AG-GONE", nil))
			if n := e.count(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, ep.ID); n != 1 {
				t.Fatalf("a disabled endpoint got %d deliveries", n)
			}
		})
	}
}

func TestRetryAfterSnoozes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) (int, string) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests, "slow down"
		}
		return http.StatusOK, ""
	})
	e.endpoint(e.key(auth.RoleAgency, "AG-SNOOZE"), rc.url("/"), EventOrderPaid)
	e.start()
	id := e.publish(orderPaid("AG-SNOOZE", nil))
	e.eventually("delivery", func() bool { return rc.ok2xx()[id] == 1 })
	e.eventually("settled", e.settled)

	// Two requests, but the snoozed one did not use up an attempt.
	var attempt, snoozes int
	err := e.pool.QueryRow(context.Background(), `SELECT attempt, coalesce((metadata->>'snoozes')::int, 0)
		FROM river_job WHERE kind = 'webhooks.deliver'`).Scan(&attempt, &snoozes)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.requests()) != 2 || attempt != 1 || snoozes != 1 {
		t.Fatalf("requests %d, job attempt %d, snoozes %d; want 2, 1, 1", len(rc.requests()), attempt, snoozes)
	}
}

func TestSecretRotation(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	clk := clock.NewRunning(time.Now())
	cfg.Clock = clk
	e := newEnv(t, cfg)
	ctx := context.Background()
	rc := newReceiver(t, answer(http.StatusOK))
	owner := e.key(auth.RolePortal, "")
	ep := e.endpoint(owner, rc.url("/"), EventOrderPaid)
	rotated, err := e.svc.RotateSecret(ctx, owner, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == ep.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
		t.Fatalf("rotation gave %q", rotated.Secret[:6])
	}
	e.start()

	during := e.publish(orderPaid("", &owner.KeyID))
	e.eventually("delivery during the grace period", func() bool { return rc.ok2xx()[during] == 1 })
	r := rc.requests()[0]
	if n := len(strings.Fields(r.Header.Get(HeaderSignature))); n != 2 {
		t.Fatalf("%d signatures during the grace period, want 2", n)
	}
	for name, secret := range map[string]string{"old": ep.Secret, "new": rotated.Secret} {
		if err := verifyWithLibrary(t, secret, r); err != nil {
			t.Errorf("a receiver holding the %s secret rejects the message: %v", name, err)
		}
		if err := Verify([]string{secret}, r.Header, r.Body, 0); err != nil {
			t.Errorf("Verify with the %s secret: %v", name, err)
		}
	}

	// After the grace period (by the clock, not the database's) only the new
	// secret signs.
	clk.Advance(cfg.SecretGrace + time.Second)
	after := e.publish(orderPaid("", &owner.KeyID))
	e.eventually("delivery after the grace period", func() bool { return rc.ok2xx()[after] == 1 })
	r = rc.requests()[1]
	if err := verifyWithLibrary(t, rotated.Secret, r); err != nil {
		t.Errorf("new secret rejected: %v", err)
	}
	if err := Verify([]string{ep.Secret}, r.Header, r.Body, 0); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("the old secret still verifies after its grace period: %v", err)
	}
}

func TestSweepDisablesFailingEndpoints(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.DisableAfter = time.Hour
	e := newEnv(t, cfg)
	ctx := context.Background()
	admin := newReceiver(t, answer(http.StatusOK))
	e.endpoint(e.key(auth.RoleAdmin, ""), admin.url("/"), EventEndpointDisabled)
	owner := e.key(auth.RoleAgency, "AG-SWEEP")
	dead := e.endpoint(owner, "https://93.184.216.34/dead", EventOrderPaid)
	flaky := e.endpoint(owner, "https://93.184.216.34/flaky", EventOrderPaid)
	healthy := e.endpoint(owner, "https://93.184.216.34/ok", EventOrderPaid)
	// An endpoint of the agency itself (made by its staff, no key behind it).
	deadOfAgency := e.endpoint(staff(auth.RoleAgency, "AG-SWEEP"), "https://93.184.216.34/dead-too", EventOrderPaid)
	for id, since := range map[uuid.UUID]string{dead.ID: "2 hours", flaky.ID: "10 minutes", deadOfAgency.ID: "2 hours"} {
		if _, err := e.pool.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = now() - $2::interval WHERE id = $1`, id, since); err != nil {
			t.Fatal(err)
		}
	}

	// The periodic job runs on start (leader) and disables only the dead ones.
	e.startNewClient(cfg, func(c *river.Config) { c.PeriodicJobs = []*river.PeriodicJob{PeriodicJob(cfg)} })
	e.eventually("endpoint.disabled at the admin", func() bool { return len(admin.ok2xx()) == 2 })
	for _, c := range []struct {
		ep      EndpointWithSecret
		enabled bool
	}{{dead, false}, {flaky, true}, {healthy, true}, {deadOfAgency, false}} {
		// The agency's staff see both its key's endpoints and its own.
		got, err := e.svc.Endpoint(ctx, staff(auth.RoleAgency, "AG-SWEEP"), c.ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Enabled != c.enabled {
			t.Errorf("endpoint %s enabled = %v, want %v", c.ep.URL, got.Enabled, c.enabled)
		}
	}
	// A second sweep (another leader, a duplicate job) changes nothing.
	again, err := NewSweepWorker(e.pool, cfg).Sweep(ctx, e.pub)
	if err != nil || len(again) != 0 {
		t.Fatalf("second sweep disabled %d (%v)", len(again), err)
	}
	for _, ep := range []EndpointWithSecret{dead, deadOfAgency} {
		if n := e.count(`SELECT count(*) FROM webhook_events WHERE type = 'endpoint.disabled' AND subject = $1 AND agency_code = 'AG-SWEEP'`, ep.ID.String()); n != 1 {
			t.Fatalf("%d endpoint.disabled events of AG-SWEEP for %s, want 1", n, ep.URL)
		}
	}
}

func TestPublishRejectsInvalidEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	tests := []struct {
		name string
		ev   Event
	}{
		{"unknown type", Event{Type: "order.teleported", Data: json.RawMessage(`{}`)}},
		{"no data", Event{Type: EventOrderPaid}},
		{"data not JSON", Event{Type: EventOrderPaid, Data: json.RawMessage(`{"a":`)}},
		{"subject too long", Event{Type: EventOrderPaid, Subject: strings.Repeat("x", 201), Data: json.RawMessage(`{}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
				_, err := e.pub.Publish(context.Background(), tx, tt.ev)
				return err
			})
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("Publish = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

// Publish is part of the caller's transaction: rolled back, nothing is sent.
func TestPublishRollsBackWithTheCaller(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ctx := context.Background()
	e.endpoint(e.key(auth.RoleTreasury, ""), "https://93.184.216.34/", EventOrderPaid)
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pub.Publish(ctx, tx, orderPaid("", nil)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT (SELECT count(*) FROM webhook_events) + (SELECT count(*) FROM webhook_deliveries) +
		(SELECT count(*) FROM river_job)`); n != 0 {
		t.Fatalf("%d rows survived the rollback", n)
	}
	e.publish(orderPaid("", nil))
	if n := e.count(`SELECT count(*) FROM river_job WHERE kind = 'webhooks.deliver' AND max_attempts = 8 AND queue = $1`, Queue); n != 1 {
		t.Fatalf("%d delivery jobs with 8 attempts on queue %s after a commit, want 1", n, Queue)
	}
}
