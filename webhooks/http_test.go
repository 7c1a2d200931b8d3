package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/internal/testkit/apicheck"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// api is the HTTP surface built as the server builds it.
type api struct {
	t   *testing.T
	app *fiber.App
}

func newAPI(e *env) *api {
	app := fiber.New(fiber.Config{ErrorHandler: problem.Handler(discardLogger, append(auth.HTTPErrors, HTTPErrors...)...)})
	v1 := app.Group("/v1", auth.NewAuthenticator(auth.NewStore(e.pool), 0).Middleware())
	NewHandler(e.svc).Routes(v1)
	return &api{t: e.t, app: app}
}

// do sends a request with key and decodes a JSON answer into out (if given).
func (a *api) do(method, path, key, body string, out any) int {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.app.Test(req, -1)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	apicheck.Check(a.t, req, resp.StatusCode, resp.Header, raw)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// want fails the test unless the request answers status.
func (a *api) want(status int, method, path, key, body string, out any) {
	a.t.Helper()
	var p problem.Problem
	target := out
	if target == nil {
		target = &p
	}
	if got := a.do(method, path, key, body, target); got != status {
		a.t.Fatalf("%s %s answered %d (%+v), want %d", method, path, got, target, status)
	}
}

func TestEndpointAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	a := newAPI(e)
	_, keyA := e.apiKey(auth.RoleAgency, "AG-A")
	_, keyB := e.apiKey(auth.RoleAgency, "AG-B")
	_, keyAdmin := e.apiKey(auth.RoleAdmin, "")

	var created map[string]any
	a.want(http.StatusCreated, "POST", "/v1/webhook-endpoints", keyA,
		`{"url":"https://93.184.216.34/hooks","events":["order.paid","order.refunded","order.paid"],"description":"back office"}`, &created)
	secret, _ := created["secret"].(string)
	id, _ := created["id"].(string)
	if !strings.HasPrefix(secret, "whsec_") || created["enabled"] != true {
		t.Fatalf("created = %v", created)
	}
	if events := created["events"].([]any); len(events) != 2 {
		t.Fatalf("events not deduplicated: %v", events)
	}
	path := "/v1/webhook-endpoints/" + id

	// The secret is shown once; only the owner and admins see the endpoint.
	var got map[string]any
	a.want(http.StatusOK, "GET", path, keyA, "", &got)
	if _, ok := got["secret"]; ok || got["url"] != "https://93.184.216.34/hooks" {
		t.Fatalf("GET = %v", got)
	}
	a.want(http.StatusNotFound, "GET", path, keyB, "", nil)
	a.want(http.StatusOK, "GET", path, keyAdmin, "", nil)
	for key, n := range map[string]int{keyA: 1, keyB: 0, keyAdmin: 1} {
		var l list[Endpoint]
		a.want(http.StatusOK, "GET", "/v1/webhook-endpoints", key, "", &l)
		if len(l.Data) != n {
			t.Errorf("list has %d endpoints, want %d", len(l.Data), n)
		}
	}

	var patched Endpoint
	a.want(http.StatusOK, "PATCH", path, keyA, `{"events":["order.expired"],"enabled":false}`, &patched)
	if !slices.Equal(patched.Events, []string{EventOrderExpired}) || patched.Enabled || patched.Description != "back office" {
		t.Fatalf("patched = %+v", patched)
	}
	a.want(http.StatusNotFound, "PATCH", path, keyB, `{"enabled":true}`, nil)

	var rotated map[string]any
	a.want(http.StatusOK, "POST", path+"/rotate-secret", keyA, "", &rotated)
	if s, _ := rotated["secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret {
		t.Fatalf("rotated secret %q", s)
	}
	a.want(http.StatusNotFound, "POST", path+"/rotate-secret", keyB, "", nil)

	a.want(http.StatusNotFound, "DELETE", path, keyB, "", nil)
	a.want(http.StatusNoContent, "DELETE", path, keyA, "", nil)
	a.want(http.StatusNotFound, "GET", path, keyA, "", nil)
}

func TestEndpointAPIValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, strictConfig()) // production policy: no loopback
	a := newAPI(e)
	_, key := e.apiKey(auth.RolePortal, "")
	var ep Endpoint
	a.want(http.StatusCreated, "POST", "/v1/webhook-endpoints", key, `{"url":"https://93.184.216.34/","events":["order.paid"]}`, &ep)
	path := "/v1/webhook-endpoints/" + ep.ID.String()
	tests := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"private url", "POST", "/v1/webhook-endpoints", `{"url":"https://192.168.1.10/","events":["order.paid"]}`, 422, "url"},
		{"loopback url", "POST", "/v1/webhook-endpoints", `{"url":"http://127.0.0.1:8080/","events":["order.paid"]}`, 422, "url"},
		{"plain http", "POST", "/v1/webhook-endpoints", `{"url":"http://93.184.216.34/","events":["order.paid"]}`, 422, "url"},
		{"no events", "POST", "/v1/webhook-endpoints", `{"url":"https://93.184.216.34/","events":[]}`, 422, "events"},
		{"unknown event", "POST", "/v1/webhook-endpoints", `{"url":"https://93.184.216.34/","events":["order.paid","order.lost"]}`, 422, "events[1]"},
		{"long description", "POST", "/v1/webhook-endpoints", `{"url":"https://93.184.216.34/","events":["order.paid"],"description":"` + strings.Repeat("ả", 501) + `"}`, 422, "description"},
		{"unknown field", "POST", "/v1/webhook-endpoints", `{"url":"https://93.184.216.34/","events":["order.paid"],"secret":"whsec_x"}`, 400, "secret"},
		{"no body", "POST", "/v1/webhook-endpoints", ``, 400, "body"},
		{"patch to private url", "PATCH", path, `{"url":"https://10.0.0.1/"}`, 422, "url"},
		{"patch to no events", "PATCH", path, `{"events":[]}`, 422, "events"},
		{"bad limit", "GET", "/v1/webhook-endpoints?limit=0", ``, 400, "query.limit"},
		{"malformed id", "GET", "/v1/webhook-endpoints/not-a-uuid", ``, 404, ""},
		{"unknown id", "GET", "/v1/webhook-endpoints/" + uuid.NewString(), ``, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p problem.Problem
			if got := a.do(tt.method, tt.path, key, tt.body, &p); got != tt.status {
				t.Fatalf("status %d (%+v), want %d", got, p, tt.status)
			}
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Fatalf("errors %+v, want field %q", p.Errors, tt.field)
			}
		})
	}
	var after Endpoint
	a.want(http.StatusOK, "GET", path, key, "", &after)
	if after.URL != ep.URL || !slices.Equal(after.Events, ep.Events) {
		t.Fatalf("a refused patch changed the endpoint: %+v", after)
	}
}

func TestEventsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	a := newAPI(e)
	_, keyA := e.apiKey(auth.RoleAgency, "AG-A")
	_, keyB := e.apiKey(auth.RoleAgency, "AG-B")
	portal, keyPortal := e.apiKey(auth.RolePortal, "")
	_, keyTreasury := e.apiKey(auth.RoleTreasury, "")
	paidA := e.publish(orderPaid("AG-A", &portal.KeyID))
	evB := orderPaid("AG-B", nil)
	paidB := e.publish(evB)
	recon := e.publish(Event{Type: EventReconciliationCompleted, Data: json.RawMessage(`{"day":"2025-01-31"}`)})

	ids := func(key, query string) []string {
		t.Helper()
		var page EventPage
		a.want(http.StatusOK, "GET", "/v1/events"+query, key, "", &page)
		var out []string
		for _, raw := range page.Data {
			var env Envelope
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatal(err)
			}
			out = append(out, env.ID)
		}
		return out
	}
	// The feed shows an event once every transaction older than it has ended,
	// in any database of the server (other tests run beside this one).
	e.eventually("the feed to reach the events", func() bool { return len(ids(keyTreasury, "")) == 3 })
	tests := []struct {
		name, key, query string
		want             []string
	}{
		{"agency A sees its own", keyA, "", []string{paidA}},
		{"agency B sees its own", keyB, "", []string{paidB}},
		{"portal sees what it created", keyPortal, "", []string{paidA}},
		{"treasury sees all, in order", keyTreasury, "", []string{paidA, paidB, recon}},
		{"by type", keyTreasury, "?type=reconciliation.completed", []string{recon}},
		{"by subject", keyTreasury, "?subject=" + evB.Subject, []string{paidB}},
		{"since the future", keyTreasury, "?since=2999-01-01T00:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(tt.key, tt.query); !slices.Equal(got, tt.want) {
				t.Fatalf("events %v, want %v", got, tt.want)
			}
		})
	}

	// Walking the cursor one by one, then polling at the end, misses nothing.
	var walked []string
	cursor := ""
	for range 4 {
		var page EventPage
		a.want(http.StatusOK, "GET", "/v1/events?limit=1&after="+cursor, keyTreasury, "", &page)
		for _, raw := range page.Data {
			var env Envelope
			_ = json.Unmarshal(raw, &env)
			walked = append(walked, env.ID)
		}
		cursor = page.NextCursor
	}
	if !slices.Equal(walked, []string{paidA, paidB, recon}) {
		t.Fatalf("walk = %v", walked)
	}
	// An event whose transaction is still open hides later ones until it commits,
	// so the poller's cursor cannot skip it. A transaction open in another
	// database on the same server (begun first, so its xid is the lowest) holds
	// nothing back: the horizon is this database's.
	ctx := context.Background()
	elsewhere, err := pgtest.New(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer elsewhere.Rollback(ctx) //nolint:errcheck
	if _, err := elsewhere.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	slow, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx) //nolint:errcheck
	late, err := e.pub.Publish(ctx, slow, orderPaid("AG-A", nil))
	if err != nil {
		t.Fatal(err)
	}
	quick := e.publish(orderPaid("AG-A", nil))
	if got := ids(keyTreasury, "?after="+cursor); len(got) != 0 {
		t.Fatalf("events %v visible while an earlier transaction is open", got)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.eventually("the feed to reach both events", func() bool { return len(ids(keyTreasury, "?after="+cursor)) >= 2 })
	if got := ids(keyTreasury, "?after="+cursor); !slices.Equal(got, []string{late, quick}) {
		t.Fatalf("after the commit: %v, want %v", got, []string{late, quick})
	}

	var one Envelope
	a.want(http.StatusOK, "GET", "/v1/events/"+paidA, keyA, "", &one)
	if one.ID != paidA || one.Type != EventOrderPaid {
		t.Fatalf("GET event = %+v", one)
	}
	a.want(http.StatusNotFound, "GET", "/v1/events/"+paidA, keyB, "", nil)
	a.want(http.StatusNotFound, "GET", "/v1/events/not-an-id", keyA, "", nil)
	a.want(http.StatusBadRequest, "GET", "/v1/events?after=garbage", keyA, "", nil)
	a.want(http.StatusUnprocessableEntity, "GET", "/v1/events?type=order.lost", keyA, "", nil)
	a.want(http.StatusBadRequest, "GET", "/v1/events?since=yesterday", keyA, "", nil)
}

func TestDeliveryLogRetryAndResend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	a := newAPI(e)
	big := strings.Repeat("x", 3000)
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) (int, string) {
		if n == 0 {
			return http.StatusUnprocessableEntity, big // not retried automatically
		}
		return http.StatusOK, "thanks"
	})
	owner, keyA := e.apiKey(auth.RoleAgency, "AG-A")
	_, keyB := e.apiKey(auth.RoleAgency, "AG-B")
	ep := e.endpoint(owner, rc.url("/"), EventOrderPaid)
	e.start()
	id := e.publish(orderPaid("AG-A", nil))
	e.eventually("the failed attempt", e.settled)

	logPath := "/v1/webhook-endpoints/" + ep.ID.String() + "/deliveries"
	var log list[Attempt]
	a.want(http.StatusOK, "GET", logPath, keyA, "", &log)
	if len(log.Data) != 1 || log.Data[0].DeliveryState != stateFailed || *log.Data[0].StatusCode != 422 ||
		log.Data[0].ResponseBody != big[:loggedBodyBytes] || log.Data[0].EventID != id {
		t.Fatalf("log = %+v", log.Data)
	}
	a.want(http.StatusNotFound, "GET", logPath, keyB, "", nil)

	// Retry the failed delivery.
	retryPath := "/v1/webhook-deliveries/" + log.Data[0].DeliveryID.String() + "/retry"
	a.want(http.StatusNotFound, "POST", retryPath, keyB, "", nil)
	a.want(http.StatusAccepted, "POST", retryPath, keyA, "", nil)
	e.eventually("the retried delivery", func() bool { return rc.ok2xx()[id] == 1 })
	e.eventually("settled", e.settled)
	a.want(http.StatusOK, "GET", logPath+"?limit=1", keyA, "", &log)
	if len(log.Data) != 1 || log.Data[0].Outcome != outcomeSucceeded || log.Data[0].ResponseBody != "thanks" || !log.HasMore {
		t.Fatalf("newest attempt = %+v (has_more %v)", log.Data, log.HasMore)
	}
	var older list[Attempt]
	a.want(http.StatusOK, "GET", logPath+"?limit=1&before="+log.NextCursor, keyA, "", &older)
	if len(older.Data) != 1 || older.Data[0].Outcome != outcomeFailed {
		t.Fatalf("older page = %+v", older.Data)
	}

	// Resend: to the same endpoint again (same webhook-id), and to an endpoint
	// created after the event.
	later := newReceiver(t, answer(http.StatusOK))
	ep2 := e.endpoint(owner, later.url("/"), EventOrderPaid)
	var resent struct {
		Deliveries []uuid.UUID `json:"deliveries"`
	}
	a.want(http.StatusNotFound, "POST", "/v1/events/"+id+"/resend", keyB, "", nil)
	a.want(http.StatusAccepted, "POST", "/v1/events/"+id+"/resend", keyA, "", &resent)
	if len(resent.Deliveries) != 2 {
		t.Fatalf("resend queued %v, want 2 deliveries", resent.Deliveries)
	}
	e.eventually("resent deliveries", func() bool { return rc.ok2xx()[id] == 2 && later.ok2xx()[id] == 1 })
	a.want(http.StatusAccepted, "POST", "/v1/events/"+id+"/resend", keyA, `{"endpoint_id":"`+ep2.ID.String()+`"}`, &resent)
	if len(resent.Deliveries) != 1 {
		t.Fatalf("targeted resend queued %v", resent.Deliveries)
	}
	e.eventually("targeted resend", func() bool { return later.ok2xx()[id] == 2 })
	if n := e.count(`SELECT count(*) FROM webhook_deliveries WHERE event_id = $1`, id); n != 2 {
		t.Fatalf("%d deliveries for the event, want one per endpoint", n)
	}
}

// A retry requested while the delivery waits hours for its next attempt sends
// now; the superseded job, when its time comes, sends nothing.
func TestRetrySupersedesAWaitingJob(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.RetrySchedule = slices.Repeat([]time.Duration{time.Hour}, 7)
	e := newEnv(t, cfg)
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) (int, string) {
		if n == 0 {
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, ""
	})
	owner := e.key(auth.RoleAgency, "AG-WAIT")
	e.endpoint(owner, rc.url("/"), EventOrderPaid)
	e.start()
	id := e.publish(orderPaid("AG-WAIT", nil))
	e.eventually("the first attempt", func() bool {
		return e.count(`SELECT count(*) FROM river_job WHERE state = 'retryable'`) == 1
	})
	var delivery uuid.UUID
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM webhook_deliveries WHERE event_id = $1`, id).Scan(&delivery); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RetryDelivery(context.Background(), owner, delivery); err != nil {
		t.Fatal(err)
	}
	e.eventually("the retried attempt", func() bool { return rc.ok2xx()[id] == 1 })

	var waiting int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM river_job WHERE state = 'retryable'`).Scan(&waiting); err != nil {
		t.Fatalf("the superseded job: %v", err)
	}
	if _, err := e.river.JobRetry(context.Background(), waiting); err != nil { // its time has come
		t.Fatal(err)
	}
	e.eventually("the superseded job to finish", e.settled)
	if n := len(rc.requests()); n != 2 {
		t.Fatalf("receiver got %d requests, want 2 (the superseded job must not send)", n)
	}
	if n := e.count(`SELECT count(*) FROM webhook_deliveries WHERE event_id = $1 AND state = 'succeeded' AND generation = 2`, id); n != 1 {
		t.Fatal("the delivery is not succeeded in its second generation")
	}
}
