package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/reconciliation/statement"
	"github.com/shopspring/decimal"
)

// auditRow is an audit_log row as a test reads it.
type auditRow struct {
	Actor, Role, Action, ResourceType, ResourceID, Route, IP string
	Before, After                                            map[string]any
	BeforeRaw, AfterRaw                                      string
}

// auditRows returns the rows of action on resourceID, oldest first.
func auditRows(t *testing.T, e *apptest.Env, action, resourceID string) []auditRow {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(), `
		SELECT actor, actor_role, action, resource_type, resource_id, route, source_ip, coalesce(before::text, ''), coalesce(after::text, '')
		FROM audit_log WHERE action = $1 AND resource_id = $2 ORDER BY id`, action, resourceID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.Actor, &r.Role, &r.Action, &r.ResourceType, &r.ResourceID, &r.Route, &r.IP, &r.BeforeRaw, &r.AfterRaw); err != nil {
			t.Fatal(err)
		}
		for raw, m := range map[string]*map[string]any{r.BeforeRaw: &r.Before, r.AfterRaw: &r.After} {
			if raw != "" {
				if err := json.Unmarshal([]byte(raw), m); err != nil {
					t.Fatal(err)
				}
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func auditCount(t *testing.T, e *apptest.Env) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// prefix is the key's public part, as the audit log names it.
func prefix(key string) string { return "key:" + key[4:16] }

func auditEnv(t *testing.T) *apptest.Env {
	return apptest.New(t, func(c *config.Config) {
		c.Webhooks.AllowLoopback = true
		c.KeyDefaultTTL = 48 * time.Hour
	})
}

// TestMutationsAreAudited makes each audited change through the API and finds
// exactly one audit row for it, with the caller, the route and the resource
// before and after. On main none of these changes wrote an audit row.
func TestMutationsAreAudited(t *testing.T) {
	t.Parallel()
	e := auditEnv(t)

	var newKey struct {
		ID, Secret string
	}
	var endpoint struct {
		ID     string
		Secret string
	}
	var entry struct{ ID int64 }
	effectiveAt := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name                  string
		do                    func(t *testing.T) (action, resourceID string)
		key, resourceType     string
		wantBefore, wantAfter map[string]any // fields that must be in before/after (nil: before/after absent)
		secret                func() string  // must not appear in the row
	}{
		{name: "key create", key: e.Admin, resourceType: "api_key",
			do: func(t *testing.T) (string, string) {
				r := e.Do(t, "POST", "/v1/keys", e.Admin, map[string]any{"role": "portal", "name": "new portal"})
				if r.Status != http.StatusCreated {
					t.Fatalf("create key: %d %s", r.Status, r.Body)
				}
				r.JSON(t, &newKey)
				return "key.create", newKey.ID
			},
			wantAfter: map[string]any{"role": "portal", "name": "new portal"},
			secret:    func() string { return newKey.Secret[17:] }},
		{name: "key revoke", key: e.Admin, resourceType: "api_key",
			do: func(t *testing.T) (string, string) {
				if r := e.Do(t, "POST", "/v1/keys/"+newKey.ID+"/revoke", e.Admin, nil); r.Status != http.StatusOK {
					t.Fatalf("revoke: %d %s", r.Status, r.Body)
				}
				return "key.revoke", newKey.ID
			},
			wantBefore: map[string]any{"role": "portal"}, wantAfter: map[string]any{"role": "portal"},
			secret: func() string { return newKey.Secret[17:] }},
		{name: "agency treasury account change", key: e.Admin, resourceType: "agency",
			do: func(t *testing.T) (string, string) {
				r := e.Do(t, "PUT", "/v1/agencies/AG-A", e.Admin, map[string]any{"name": "Agency A", "treasury_account": "TA-A-NEW"})
				if r.Status != http.StatusOK {
					t.Fatalf("put agency: %d %s", r.Status, r.Body)
				}
				return "catalogue.agency.update", "AG-A"
			},
			wantBefore: map[string]any{"treasury_account": "TA-A"}, wantAfter: map[string]any{"treasury_account": "TA-A-NEW"}},
		{name: "service create", key: e.Admin, resourceType: "service",
			do: func(t *testing.T) (string, string) {
				r := e.Do(t, "PUT", "/v1/services/A-NEW", e.Admin, map[string]any{"agency_code": "AG-A", "name": "new", "kind": "fee", "fixed_amount": 1000})
				if r.Status != http.StatusOK {
					t.Fatalf("put service: %d %s", r.Status, r.Body)
				}
				return "catalogue.service.create", "A-NEW"
			},
			wantAfter: map[string]any{"agency_code": "AG-A", "name": "new"}},
		{name: "webhook endpoint create", key: e.AgencyA, resourceType: "webhook_endpoint",
			do: func(t *testing.T) (string, string) {
				r := e.Do(t, "POST", "/v1/webhook-endpoints", e.AgencyA, map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"order.paid"}})
				if r.Status != http.StatusCreated {
					t.Fatalf("create endpoint: %d %s", r.Status, r.Body)
				}
				r.JSON(t, &endpoint)
				return "webhook_endpoint.create", endpoint.ID
			},
			wantAfter: map[string]any{"url": "http://127.0.0.1:9/hook"},
			secret:    func() string { return endpoint.Secret }},
		{name: "webhook endpoint update", key: e.AgencyA, resourceType: "webhook_endpoint",
			do: func(t *testing.T) (string, string) {
				if r := e.Do(t, "PATCH", "/v1/webhook-endpoints/"+endpoint.ID, e.AgencyA, map[string]any{"description": "ops"}); r.Status != http.StatusOK {
					t.Fatalf("patch endpoint: %d %s", r.Status, r.Body)
				}
				return "webhook_endpoint.update", endpoint.ID
			},
			wantBefore: map[string]any{"description": ""}, wantAfter: map[string]any{"description": "ops"},
			secret: func() string { return endpoint.Secret }},
		{name: "webhook secret rotation", key: e.AgencyA, resourceType: "webhook_endpoint",
			do: func(t *testing.T) (string, string) {
				old := endpoint.Secret
				r := e.Do(t, "POST", "/v1/webhook-endpoints/"+endpoint.ID+"/rotate-secret", e.AgencyA, nil)
				if r.Status != http.StatusOK {
					t.Fatalf("rotate: %d %s", r.Status, r.Body)
				}
				r.JSON(t, &endpoint)
				if endpoint.Secret == old || endpoint.Secret == "" {
					t.Fatal("no new secret")
				}
				return "webhook_endpoint.rotate_secret", endpoint.ID
			},
			wantBefore: map[string]any{"description": "ops"}, wantAfter: map[string]any{"description": "ops"},
			secret: func() string { return endpoint.Secret }},
		{name: "webhook endpoint delete", key: e.AgencyA, resourceType: "webhook_endpoint",
			do: func(t *testing.T) (string, string) {
				if r := e.Do(t, "DELETE", "/v1/webhook-endpoints/"+endpoint.ID, e.AgencyA, nil); r.Status != http.StatusNoContent {
					t.Fatalf("delete endpoint: %d %s", r.Status, r.Body)
				}
				return "webhook_endpoint.delete", endpoint.ID
			},
			wantBefore: map[string]any{"url": "http://127.0.0.1:9/hook"}},
		{name: "manual ledger entry", key: e.Treasury, resourceType: "ledger_entry",
			do: func(t *testing.T) (string, string) {
				r := e.Do(t, "POST", "/v1/ledger/entries", e.Treasury, json.RawMessage(fmt.Sprintf(`{"reason":"correct a fee","effective_at":%q,"postings":[
					{"account":"treasury:TA-A:bank","direction":"debit","amount":5000,"currency":"VND"},
					{"account":"suspense","direction":"credit","amount":5000,"currency":"VND"}]}`, effectiveAt)), "Idempotency-Key", "audit-1")
				if r.Status != http.StatusCreated {
					t.Fatalf("post entry: %d %s", r.Status, r.Body)
				}
				r.JSON(t, &entry)
				// The same request again is a replay, not a second change.
				if r := e.Do(t, "POST", "/v1/ledger/entries", e.Treasury, json.RawMessage(fmt.Sprintf(`{"reason":"correct a fee","effective_at":%q,"postings":[
					{"account":"treasury:TA-A:bank","direction":"debit","amount":5000,"currency":"VND"},
					{"account":"suspense","direction":"credit","amount":5000,"currency":"VND"}]}`, effectiveAt)), "Idempotency-Key", "audit-1"); r.Status != http.StatusOK {
					t.Fatalf("replay: %d %s", r.Status, r.Body)
				}
				return "ledger.entry.post", fmt.Sprint(entry.ID)
			},
			wantAfter: map[string]any{"description": "correct a fee"}},
		{name: "ledger reversal", key: e.Treasury, resourceType: "ledger_entry",
			do: func(t *testing.T) (string, string) {
				r := e.Do(t, "POST", fmt.Sprintf("/v1/ledger/entries/%d/reversal", entry.ID), e.Treasury,
					map[string]any{"reason": "typo"}, "Idempotency-Key", "audit-2")
				if r.Status != http.StatusCreated {
					t.Fatalf("reverse: %d %s", r.Status, r.Body)
				}
				var rev struct{ ID int64 }
				r.JSON(t, &rev)
				return "ledger.entry.reverse", fmt.Sprint(rev.ID)
			},
			wantAfter: map[string]any{"description": "typo"}},
		{name: "reconciliation run request", key: e.Treasury, resourceType: "recon_day_job",
			do: func(t *testing.T) (string, string) {
				r := e.Do(t, "POST", "/v1/reconciliation/runs", e.Treasury, map[string]any{"date": "2026-03-01", "source": "momo"})
				if r.Status != http.StatusAccepted {
					t.Fatalf("request run: %d %s", r.Status, r.Body)
				}
				var job struct {
					JobID int64 `json:"job_id"`
				}
				r.JSON(t, &job)
				return "reconciliation.run.request", fmt.Sprint(job.JobID)
			},
			wantAfter: map[string]any{"date": "2026-03-01", "source": "momo"}},
		{name: "statement upload", key: e.Treasury, resourceType: "statement_file",
			do: func(t *testing.T) (string, string) {
				r := e.Do(t, "POST", "/v1/statements", e.Treasury, settlementFile(t), "X-Filename", "x.csv")
				if r.Status != http.StatusAccepted {
					t.Fatalf("upload: %d %s", r.Status, r.Body)
				}
				var f struct{ ID int64 }
				r.JSON(t, &f)
				return "statement.import", fmt.Sprint(f.ID)
			},
			wantAfter: map[string]any{"name": "x.csv", "source": "upload"}},
	}
	// Sequential: each case builds on the one before.
	for _, c := range cases {
		action, id := c.do(t)
		rows := auditRows(t, e, action, id)
		if len(rows) != 1 {
			t.Fatalf("%s: %d audit rows for %s %s, want 1", c.name, len(rows), action, id)
		}
		r := rows[0]
		if want := prefix(c.key); r.Actor != want || r.ResourceType != c.resourceType || r.IP == "" || !strings.HasPrefix(r.Route, "/v1/") && !strings.Contains(r.Route, " /v1/") {
			t.Errorf("%s: row %+v, want actor %s, resource type %s, an IP and the route", c.name, r, want, c.resourceType)
		}
		var role string
		switch c.key {
		case e.Admin:
			role = "admin"
		case e.AgencyA:
			role = "agency"
		case e.Treasury:
			role = "treasury"
		}
		if r.Role != role {
			t.Errorf("%s: role %q, want %q", c.name, r.Role, role)
		}
		for label, pair := range map[string]struct {
			want map[string]any
			got  map[string]any
		}{"before": {c.wantBefore, r.Before}, "after": {c.wantAfter, r.After}} {
			if pair.want == nil && pair.got != nil {
				t.Errorf("%s: %s = %v, want none", c.name, label, pair.got)
			}
			for k, v := range pair.want {
				if pair.got[k] != v {
					t.Errorf("%s: %s[%s] = %v, want %v", c.name, label, k, pair.got[k], v)
				}
			}
		}
		if c.secret != nil {
			if s := c.secret(); strings.Contains(r.BeforeRaw+r.AfterRaw, s) || strings.Contains(r.BeforeRaw+r.AfterRaw, "secret") {
				t.Errorf("%s: the audit row carries a secret: %s %s", c.name, r.BeforeRaw, r.AfterRaw)
			}
		}
	}
}

// TestFailedChangesLeaveNoAuditRow: a refused change writes no audit row, and
// a change whose audit row cannot be written (no actor) does not happen.
func TestFailedChangesLeaveNoAuditRow(t *testing.T) {
	t.Parallel()
	e := auditEnv(t)
	before := auditCount(t, e)
	for _, c := range []struct {
		method, path, key string
		body              any
		headers           []string
		status            int
	}{
		{"PUT", "/v1/services/X-1", e.Admin, map[string]any{"agency_code": "NOPE", "name": "x", "kind": "fee", "fixed_amount": 1}, nil, 422},
		{"PUT", "/v1/agencies/AG-A", e.Admin, map[string]any{"name": "Agency A"}, nil, 422},
		{"PUT", "/v1/agencies/AG-A", e.Portal, map[string]any{"name": "Agency A", "treasury_account": "MINE"}, nil, 403},
		{"POST", "/v1/keys", e.Admin, map[string]any{"role": "portal", "expires_at": "2001-01-01T00:00:00Z"}, nil, 422},
		{"POST", "/v1/keys", e.Admin, map[string]any{"role": "agency", "agency_code": "NOPE"}, nil, 422},
		{"POST", "/v1/ledger/entries", e.Treasury, json.RawMessage(`{"reason":"x","effective_at":"2026-03-01T10:00:00Z","postings":[
			{"account":"agency:AG-A:collected","direction":"debit","amount":5000,"currency":"VND"},
			{"account":"suspense","direction":"credit","amount":4000,"currency":"VND"}]}`), []string{"Idempotency-Key", "bad"}, 422},
		{"POST", "/v1/ledger/entries/999999/reversal", e.Treasury, map[string]any{"reason": "x"}, []string{"Idempotency-Key", "bad2"}, 404},
		{"PATCH", "/v1/webhook-endpoints/0190a2c4-0000-7000-8000-000000000000", e.AgencyA, map[string]any{"description": "x"}, nil, 404},
	} {
		if r := e.Do(t, c.method, c.path, c.key, c.body, c.headers...); r.Status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.Status, r.Body, c.status)
		}
	}
	if after := auditCount(t, e); after != before {
		t.Fatalf("%d audit rows written by refused changes", after-before)
	}

	// No actor, no change: the change and its audit row commit together or not at all.
	_, err := catalogue.NewStore(e.Pool).UpsertAgency(context.Background(), catalogue.Agency{Code: "AG-A", Name: "Agency A", TreasuryAccount: "STOLEN"})
	if !errors.Is(err, audit.ErrNoActor) {
		t.Fatalf("upsert without actor: %v, want ErrNoActor", err)
	}
	var account string
	if err := e.Pool.QueryRow(context.Background(), `SELECT treasury_account FROM agencies WHERE code = 'AG-A'`).Scan(&account); err != nil || account != "TA-A" {
		t.Fatalf("treasury account %q (%v): the unaudited change was kept", account, err)
	}
}

type auditPage struct {
	Data []struct {
		ID         int64  `json:"id"`
		Actor      string `json:"actor"`
		Action     string `json:"action"`
		ResourceID string `json:"resource_id"`
	} `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// TestAuditRead: GET /v1/audit filters, pages by cursor, answers CSV with
// neutralised cells, names a bad filter, and is refused to portal and agency
// keys. The route does not exist on main.
func TestAuditRead(t *testing.T) {
	t.Parallel()
	e := auditEnv(t)
	for i := range 5 {
		if r := e.Do(t, "PUT", fmt.Sprintf("/v1/agencies/AG-%d", i), e.Admin, map[string]any{"name": "x", "treasury_account": "T"}); r.Status != 200 {
			t.Fatalf("put agency: %d %s", r.Status, r.Body)
		}
	}
	// A row whose cells a spreadsheet would run as formulas.
	ctx := audit.WithActor(context.Background(), audit.Actor{ID: "=HYPERLINK(\"http://evil\")", Role: "cli", Route: "@SUM(A1)"})
	tx, err := e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Record(ctx, tx, audit.Event{Action: "test.formula", ResourceType: "x", ResourceID: "-2+3"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// Walk the admin's rows two at a time.
	admin := prefix(e.Admin)
	var seen []int64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the cursor does not end")
		}
		r := e.Do(t, "GET", "/v1/audit?limit=2&actor="+url.QueryEscape(admin)+"&cursor="+cursor, e.Admin, nil)
		if r.Status != 200 {
			t.Fatalf("GET /v1/audit: %d %s", r.Status, r.Body)
		}
		var p auditPage
		r.JSON(t, &p)
		for _, d := range p.Data {
			if d.Actor != admin || d.Action != "catalogue.agency.create" {
				t.Errorf("filtered by actor, got %+v", d)
			}
			if len(seen) > 0 && d.ID >= seen[len(seen)-1] {
				t.Errorf("not newest first: %d after %d", d.ID, seen[len(seen)-1])
			}
			seen = append(seen, d.ID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Fatalf("walked %d rows of the admin, want 5", len(seen))
	}

	for _, c := range []struct {
		query string
		want  int
	}{
		{"resource_type=agency&resource_id=AG-3", 1},
		{"action=catalogue.agency.create", 7}, // with the fixtures' AG-A and AG-B
		{"action=catalogue.agency.create&from=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), 0},
		{"action=catalogue.agency.create&to=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), 0},
		{"action=catalogue.agency.create&from=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)) +
			"&to=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), 7},
	} {
		r := e.Do(t, "GET", "/v1/audit?"+c.query, e.Treasury, nil)
		var p auditPage
		r.JSON(t, &p)
		if r.Status != 200 || len(p.Data) != c.want {
			t.Errorf("?%s: %d, %d rows, want %d", c.query, r.Status, len(p.Data), c.want)
		}
	}

	for _, c := range []struct{ query, field string }{
		{"from=yesterday", "query.from"},
		{"to=2026-13-01T00:00:00Z", "query.to"},
		{"from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "query.to"},
		{"limit=501", "query.limit"},
		{"limit=0", "query.limit"},
		{"cursor=abc", "query.cursor"},
	} {
		r := e.Do(t, "GET", "/v1/audit?"+c.query, e.Admin, nil)
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), `"`+c.field+`"`) ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("?%s: %d %s, want a 422 problem naming %s", c.query, r.Status, r.Body, c.field)
		}
	}

	for key, status := range map[string]int{e.Portal: 403, e.AgencyA: 403, e.Treasury: 200, e.Admin: 200} {
		if r := e.Do(t, "GET", "/v1/audit", key, nil); r.Status != status {
			t.Errorf("GET /v1/audit as %s: %d, want %d", key[:16], r.Status, status)
		}
	}

	r := e.Do(t, "GET", "/v1/audit?action=test.formula", e.Admin, nil, "Accept", "text/csv")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("CSV: %v, %d records: %s", err, len(recs), r.Body)
	}
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	if row["actor"] != `'=HYPERLINK("http://evil")` || row["route"] != "'@SUM(A1)" || row["resource_id"] != "'-2+3" || row["action"] != "test.formula" {
		t.Errorf("CSV cells not neutralised: %v", row)
	}
}

// TestKeyExpiry: keys get an expiry (given, or the configured default), the
// list shows it, and an expired key is refused like a revoked one. On main
// keys never expired.
func TestKeyExpiry(t *testing.T) {
	t.Parallel()
	e := auditEnv(t)
	create := func(body map[string]any) (id, secret string, expires *time.Time) {
		t.Helper()
		body["role"] = "portal"
		r := e.Do(t, "POST", "/v1/keys", e.Admin, body)
		if r.Status != http.StatusCreated {
			t.Fatalf("create %v: %d %s", body, r.Status, r.Body)
		}
		var k struct {
			ID        string     `json:"id"`
			Secret    string     `json:"secret"`
			ExpiresAt *time.Time `json:"expires_at"`
		}
		r.JSON(t, &k)
		return k.ID, k.Secret, k.ExpiresAt
	}
	now := time.Now()
	_, _, def := create(map[string]any{})
	if def == nil || def.Sub(now) < 47*time.Hour || def.Sub(now) > 49*time.Hour {
		t.Errorf("default expiry %v, want about 48h (CIVICPAY_KEY_DEFAULT_TTL)", def)
	}
	_, _, in := create(map[string]any{"expires_in": "720h"})
	if in == nil || in.Sub(now) < 719*time.Hour {
		t.Errorf("expires_in 720h: %v", in)
	}
	at := now.Add(10 * time.Hour).UTC().Truncate(time.Second)
	_, _, got := create(map[string]any{"expires_at": at.Format(time.RFC3339)})
	if got == nil || !got.Equal(at) {
		t.Errorf("expires_at %v, want %v", got, at)
	}
	_, _, never := create(map[string]any{"expires_in": "0"})
	if never != nil {
		t.Errorf(`expires_in "0": %v, want no expiry`, never)
	}
	for body, field := range map[string]string{
		`{"role":"portal","expires_at":"2001-01-01T00:00:00Z"}`:                   "expires_at",
		`{"role":"portal","expires_in":"soon"}`:                                   "expires_in",
		`{"role":"portal","expires_in":"-1h"}`:                                    "expires_in",
		`{"role":"portal","expires_in":"1h","expires_at":"2099-01-01T00:00:00Z"}`: "expires_in",
	} {
		r := e.Do(t, "POST", "/v1/keys", e.Admin, []byte(body))
		if r.Status != 422 || !strings.Contains(string(r.Body), `"`+field+`"`) {
			t.Errorf("%s: %d %s, want 422 naming %s", body, r.Status, r.Body, field)
		}
	}

	id, secret, _ := create(map[string]any{"expires_in": "1h"})
	if r := e.Do(t, "GET", "/v1/orders", secret, nil); r.Status != 200 {
		t.Fatalf("fresh key: %d %s", r.Status, r.Body)
	}
	// Time passes (the row is moved instead of the clock).
	if _, err := e.Pool.Exec(context.Background(), `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if r := e.Do(t, "GET", "/v1/orders", secret, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("expired key: %d %s, want 401", r.Status, r.Body)
	}
	r := e.Do(t, "GET", "/v1/keys", e.Admin, nil)
	var list struct {
		Data []struct {
			ID        string     `json:"id"`
			ExpiresAt *time.Time `json:"expires_at"`
		} `json:"data"`
	}
	r.JSON(t, &list)
	found := false
	for _, k := range list.Data {
		if k.ID == id {
			found = k.ExpiresAt != nil && k.ExpiresAt.Before(time.Now())
		}
	}
	if !found {
		t.Errorf("the key list does not show the expired key's expires_at: %s", r.Body)
	}
}

// settlementFile is a one-line MoMo settlement file.
func settlementFile(t *testing.T) []byte {
	t.Helper()
	day := time.Date(2026, time.March, 1, 0, 0, 0, 0, statement.ICT)
	var buf bytes.Buffer
	w, err := statement.NewSettlementWriter(statement.GatewayMoMo, &buf, statement.SettlementFile{BusinessDate: day})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(statement.SettlementLine{GatewayTxnID: "4088878653", Reference: "ATT1", Type: statement.TypePayment,
		Gross: decimal.NewFromInt(50_000), Fee: decimal.NewFromInt(750), Net: decimal.NewFromInt(49_250), At: day.Add(9 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
