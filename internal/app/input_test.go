package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/app/server"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// routeBodies is a well-formed body for each /v1 route that reads a JSON
// body: the bad-input tests poison one of its strings or amounts at a time.
// Routes not listed read no body.
var routeBodies = map[string]string{
	"POST /v1/keys":                   `{"role":"agency","agency_code":"AG-A","name":"n","expires_in":"720h","also":[]}`,
	"PUT /v1/agencies/:code":          `{"name":"N","treasury_account":"TA-X"}`,
	"PUT /v1/services/:code":          `{"agency_code":"AG-A","name":"n","kind":"fee","currency":"VND","fixed_amount":1000,"min_amount":"1","max_amount":"2"}`,
	"POST /v1/orders":                 `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":5000}],"payer":{"name":"An","email":"a@b.vn","phone":"0901234567","national_id":"012345678901"},"description":"d","return_url":"https://portal.example/r","metadata":{"k":"v"}}`,
	"POST /v1/orders/:id/cancel":      `{"reason":"r"}`,
	"POST /v1/orders/:id/attempts":    `{"method":"card","gateway":"vnpay","locale":"vi","client_ip":"192.0.2.1"}`,
	"POST /v1/orders/:id/refunds":     `{"amount":"1000","lines":[{"line_no":1,"amount":1000}],"expected_refundable":"5000","reason":"r"}`,
	"POST /v1/webhook-endpoints":      `{"url":"https://example.com/h","events":["order.paid"],"description":"d"}`,
	"PATCH /v1/webhook-endpoints/:id": `{"url":"https://example.com/h","events":["order.paid"],"description":"d"}`,
	"POST /v1/events/:id/resend":      `{"endpoint_id":"00000000-0000-0000-0000-000000000001"}`,
	"POST /v1/ledger/entries": `{"reason":"fee","reference":"ref","effective_at":"2026-01-01T00:00:00Z","postings":[
		{"account":"treasury:TA-A:bank","direction":"debit","amount":5000,"currency":"VND"},
		{"account":"suspense","direction":"credit","amount":"5000","currency":"VND"}]}`,
	"POST /v1/ledger/entries/requests/:id/approve":         `{"note":"n"}`,
	"POST /v1/ledger/entries/requests/:id/reject":          `{"note":"n"}`,
	"POST /v1/ledger/entries/:id/reversal":                 `{"reason":"r","effective_at":"2026-01-01T00:00:00Z"}`,
	"POST /v1/reconciliation/runs":                         `{"date":"2026-01-01","source":"vnpay"}`,
	"POST /v1/reconciliation/exceptions/:id/resolve":       `{"resolution":"written_off","note":"n"}`,
	"POST /v1/reconciliation/exceptions/:id/approve":       `{"note":"n"}`,
	"POST /v1/days/:date/close":                            `{"note":"n"}`,
	"POST /v1/days/:date/reopen":                           `{"reason":"r"}`,
	"POST /v1/days/:date/reopen/approve":                   `{"note":"n"}`,
	"POST /v1/days/:date/reopen/reject":                    `{"note":"n"}`,
	"POST /v1/reconciliation/exceptions/:id/carry-forward": `{"note":"n"}`,
}

// amountFields are the JSON names of amounts in routeBodies.
var amountFields = []string{"amount", "fixed_amount", "min_amount", "max_amount", "expected_refundable"}

// inputPathValues are well-formed path parameters (no row has them): a
// handler that reads its body reads it before looking anything up.
var inputPathValues = map[string]string{
	":id": "00000000-0000-0000-0000-000000000001", ":code": "AG-A", ":ref": "RF00000000000000000", ":date": "2026-01-01",
}

// numericIDRoutes take an integer :id.
func inputPath(route string) string {
	_, path, _ := strings.Cut(route, " ")
	intID := strings.HasPrefix(path, "/v1/ledger/") || strings.HasPrefix(path, "/v1/reconciliation/") || strings.HasPrefix(path, "/v1/statements/")
	for name, v := range inputPathValues {
		if name == ":id" && intID {
			v = "1"
		}
		path = strings.ReplaceAll(path, name, v)
	}
	return path
}

// inputKeys is the key of a role allowed on each route.
func inputKey(e *apptest.Env, route string) string {
	keys := map[string]string{portal: e.Portal, agency: e.AgencyA, treasury: e.Treasury, admin: e.Admin, adminTreasury: e.AdminTreasury}
	return keys[routeRoles[route][0]]
}

// documentedQuery lists each route's query parameters from the OpenAPI
// document, keyed like routeRoles.
func documentedQuery(t testing.TB) map[string][]string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	type param struct {
		In   string `json:"in"`
		Name string `json:"name"`
	}
	out := map[string][]string{}
	for path, ops := range doc.Paths {
		var common []param
		if raw, ok := ops["parameters"]; ok {
			_ = json.Unmarshal(raw, &common)
		}
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				Parameters []param `json:"parameters"`
			}
			_ = json.Unmarshal(raw, &op)
			route := strings.ToUpper(method) + " " + braceRE.ReplaceAllString(path, ":$1")
			for _, p := range append(common, op.Parameters...) {
				if p.In == "query" && !slices.Contains(out[route], p.Name) {
					out[route] = append(out[route], p.Name)
				}
			}
		}
	}
	return out
}

// writes is a fingerprint of every table's rows (each row version's place
// and transaction): it changes with any insert, update or delete.
type writes struct {
	pool  *pgxpool.Pool
	query string
}

func newWrites(t testing.TB, pool *pgxpool.Pool) *writes {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		fingerprint := `md5(coalesce(string_agg(ctid::text || xmin::text, ',' ORDER BY ctid), ''))`
		if cols, ok := bookkeeping[name]; ok {
			// The rows' contents but those columns.
			fingerprint = `md5(coalesce(string_agg((to_jsonb(x) - ` + quoteLiteral(cols) + `::text[])::text, ',' ORDER BY (to_jsonb(x) - ` +
				quoteLiteral(cols) + `::text[])::text), ''))`
		}
		parts = append(parts, fmt.Sprintf(`SELECT %s AS t, count(*) AS n, %s AS h FROM %s x`, quoteLiteral(name), fingerprint, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(parts) < 10 {
		t.Fatalf("only %d tables", len(parts))
	}
	return &writes{pool: pool, query: `SELECT t, n, h FROM (` + strings.Join(parts, " UNION ALL ") + `) s ORDER BY t`}
}

// bookkeeping are columns a request may write whatever its answer, which
// writes does not count: a key's last use (auth.Authenticator records it
// for any authenticated request, at most once a minute per key), as a
// Postgres array literal.
var bookkeeping = map[string]string{"public.api_keys": "{last_used_at}"}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// snapshot maps each table to its fingerprint.
func (w *writes) snapshot(t testing.TB) map[string]string {
	t.Helper()
	rows, err := w.pool.Query(context.Background(), w.query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, h string
		var n int64
		if err := rows.Scan(&name, &n, &h); err != nil {
			t.Fatal(err)
		}
		out[name] = fmt.Sprintf("%d:%s", n, h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// changed lists the tables whose fingerprints differ.
func changed(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// badInput is one request that must be refused.
type badInput struct {
	name        string
	route       string
	path        string // with query string
	body        []byte
	contentType string // "-": none
	status      int
	field       string // the field the problem names ("": not checked)
}

// poison marks the string, poisonNumber the amount, a bad input replaces.
const (
	poison       = "@@POISON@@"
	poisonNumber = "987654321987654321"
)

var braceRE = regexp.MustCompile(`\{([A-Za-z_]+)\}`)

// poisoned are the bodies of template with one string, or one amount,
// replaced by the placeholder poison, by the JSON path of what was replaced.
func poisoned(t testing.TB, template string) (strs, amounts map[string][]byte) {
	t.Helper()
	var root any
	if err := json.Unmarshal([]byte(template), &root); err != nil {
		t.Fatalf("template %s: %v", template, err)
	}
	strs, amounts = map[string][]byte{}, map[string][]byte{}
	var walk func(v any, path string, set func(any))
	walk = func(v any, path string, set func(any)) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(child, p, func(nv any) { x[k] = nv })
			}
		case []any:
			for i, child := range x {
				walk(child, fmt.Sprintf("%s[%d]", path, i), func(nv any) { x[i] = nv })
			}
		case string, float64:
			mark := func(into map[string][]byte, repl any) {
				set(repl)
				b, err := json.Marshal(root)
				if err != nil {
					t.Fatal(err)
				}
				into[path] = b
				set(x)
			}
			if slices.Contains(amountFields, path[strings.LastIndexAny(path, ".]")+1:]) {
				mark(amounts, json.Number(poisonNumber))
			}
			if _, ok := x.(string); ok {
				mark(strs, poison)
			}
		}
	}
	walk(root, "", func(any) {})
	return strs, amounts
}

// badInputs are the requests each route must refuse: NUL, invalid UTF-8
// and lone surrogates in each body string, each query parameter and each
// path parameter; a duplicate key; amounts in exponent form; a body that is
// not sent as JSON.
func badInputs(t testing.TB) []badInput {
	t.Helper()
	query := documentedQuery(t)
	var out []badInput
	routes := make([]string, 0, len(routeRoles))
	for r := range routeRoles {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, route := range routes {
		_, pattern, _ := strings.Cut(route, " ")
		path := inputPath(route)
		add := func(b badInput) {
			b.route = route
			if b.path == "" {
				b.path = path
			}
			if b.contentType == "" {
				b.contentType = "application/json"
			}
			out = append(out, b)
		}
		// Query parameters, documented or not.
		for _, q := range append(query[route], "undocumented") {
			add(badInput{name: "NUL in query " + q, path: path + "?" + q + "=a%00b", status: 422, field: "query." + q})
			add(badInput{name: "invalid UTF-8 in query " + q, path: path + "?" + q + "=%FF", status: 400, field: "query." + q})
		}
		// Path parameters.
		segs := strings.Split(pattern, "/")
		for i, s := range segs {
			if !strings.HasPrefix(s, ":") {
				continue
			}
			for _, bad := range []struct {
				val    string
				status int
			}{{"x%00", 422}, {"%FF", 400}, {"%ED%A0%80", 400}} {
				real := strings.Split(path, "/")
				real[i] = bad.val
				add(badInput{name: fmt.Sprintf("%s in path %s", bad.val, s), path: strings.Join(real, "/"), status: bad.status, field: "path." + s[1:]})
			}
		}
		// Bodies not sent as JSON.
		if route != "POST /v1/statements" {
			add(badInput{name: "text/plain body", body: []byte(`{}`), contentType: "text/plain", status: 415, field: "header.Content-Type"})
			add(badInput{name: "body without Content-Type", body: []byte(`{}`), contentType: "-", status: 415, field: "header.Content-Type"})
			add(badInput{name: "JSON in another charset", body: []byte(`{}`), contentType: "application/json; charset=latin1", status: 415, field: "header.Content-Type"})
		}
		template, ok := routeBodies[route]
		if !ok {
			continue
		}
		strs, amounts := poisoned(t, template)
		for field, b := range strs {
			for _, p := range []struct {
				name, raw string
				status    int
			}{{"NUL", `"a\u0000b"`, 422}, {"invalid UTF-8", "\"a\xffb\"", 400}, {"lone surrogate", `"\ud800"`, 400}} {
				add(badInput{name: p.name + " in " + field, body: bytes.Replace(b, []byte(`"`+poison+`"`), []byte(p.raw), 1), status: p.status, field: field})
			}
		}
		for field, b := range amounts {
			for _, p := range []string{`5e3`, `"5e3"`, `1E+400`, `" 5000"`} {
				add(badInput{name: p + " as " + field, body: bytes.Replace(b, []byte(poisonNumber), []byte(p), 1), status: 422, field: field})
			}
		}
		// A duplicate key: the template's first key again, first.
		var first string
		dec := json.NewDecoder(strings.NewReader(template))
		if _, err := dec.Token(); err == nil {
			if tok, err := dec.Token(); err == nil {
				first, _ = tok.(string)
			}
		}
		if first != "" {
			var m map[string]json.RawMessage
			_ = json.Unmarshal([]byte(template), &m)
			dup := fmt.Sprintf(`{%q:%s,%s`, first, m[first], strings.TrimPrefix(strings.TrimSpace(template), "{"))
			add(badInput{name: "duplicate key " + first, body: []byte(dup), status: 400, field: first})
		}
	}
	return out
}

// TestBadInputIsRefusedEverywhere: every /v1 route refuses, with the status
// and field of RFC 9457 problem+json and without writing anything, what
// PostgreSQL cannot store (NUL, invalid UTF-8, lone surrogates) in a body,
// query or path parameter, and bodies a payment API must not guess at
// (duplicate keys, exponent amounts, no or another Content-Type). On main
// several of them were a 500 (NUL in an order's description or a ledger
// match filter), the others went through.
func TestBadInputIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	e := apptest.NewQuiet(t)
	w := newWrites(t, e.Pool)
	inputs := badInputs(t)
	if len(inputs) < 500 {
		t.Fatalf("only %d bad inputs", len(inputs))
	}
	// The tables are fingerprinted after each run of one route's inputs
	// rather than after every input (a fingerprint reads every table): a
	// refused input that wrote anything changes the fingerprint (ctid and
	// xmin), whatever the inputs after it do, and the message names the
	// route's inputs of that run.
	before := w.snapshot(t)
	byRoute := map[string]int{}
	var run []string // the names of the inputs since the last fingerprint
	for i, in := range inputs {
		byRoute[in.route]++
		run = append(run, in.name)
		headers := []string{"Idempotency-Key", fmt.Sprintf("bad-input-%d", i)}
		var body any
		if in.body != nil {
			body = in.body
			headers = append(headers, "Content-Type", in.contentType)
		}
		r := doRaw(t, e, in.route, in.path, inputKey(e, in.route), body, headers...)
		var p struct {
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		}
		_ = json.Unmarshal(r.Body, &p)
		got := ""
		if len(p.Errors) > 0 {
			got = p.Errors[0].Field
		}
		if r.Status != in.status || (in.field != "" && got != in.field) || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %s %s: %d %s, want %d naming %s", in.route, in.name, in.path, r.Status, r.Body, in.status, in.field)
		}
		if i+1 < len(inputs) && inputs[i+1].route == in.route {
			continue
		}
		if after := w.snapshot(t); !equalMaps(before, after) {
			t.Errorf("%s: one of %q: refused but wrote to %v", in.route, run, changed(before, after))
			before = after
		}
		run = run[:0]
	}
	for route := range routeRoles {
		if byRoute[route] == 0 {
			t.Errorf("%s: no bad input tried", route)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// doRaw sends body with exactly the headers given (a Content-Type of "-"
// is left out).
func doRaw(t testing.TB, e *apptest.Env, route, path, key string, body any, headers ...string) apptest.Response {
	t.Helper()
	method, _, _ := strings.Cut(route, " ")
	var rdr io.Reader
	if b, ok := body.([]byte); ok {
		rdr = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.URL+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "-" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}
