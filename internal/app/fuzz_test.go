package app_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// fuzzRoutes are the routes FuzzHTTPAPI drives: every /v1 route of
// routeRoles (with a key of a role allowed on it) and the public ones.
func fuzzRoutes() []string {
	routes := make([]string, 0, len(routeRoles)+8)
	for r := range routeRoles {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	return append(routes, "GET /pay/:ref", "POST /pay/:ref", "POST /pay/:ref/reveal", "GET /return/:ref",
		"GET /receipts/:ref", "GET /receipts/:ref/verify", "GET /callbacks/:gateway", "POST /callbacks/:gateway", "GET /healthz")
}

// fuzzContentTypes are what FuzzHTTPAPI's ctype picks.
var fuzzContentTypes = []string{"application/json", "-", "text/plain", "application/json; charset=utf-8",
	"multipart/form-data; boundary=b", "application/x-www-form-urlencoded", "application/json; charset=latin1"}

// FuzzHTTPAPI sends the whole HTTP API random paths, query strings and
// bodies (random bytes, NUL, surrogates, duplicate keys, huge numbers) with
// an authorised key, over a real listener, and holds it to two rules: never
// a 5xx, and never a write when the request is refused (>= 400) — every
// table's rows are fingerprinted before and after. River does not run
// (apptest.NewQuiet), so every write is the request's. The seed corpus runs
// under plain go test in a few seconds.
func FuzzHTTPAPI(f *testing.F) {
	routes := fuzzRoutes()
	index := map[string]uint8{}
	for i, r := range routes {
		index[r] = uint8(i)
	}
	// Seeds: each route with a well-formed body and no parameters, then the
	// bad inputs of TestBadInputIsRefusedEverywhere, then odd ones.
	for _, r := range routes {
		f.Add(index[r], "", "", uint8(0), []byte(routeBodies[r]))
	}
	for i, in := range badInputs(f) {
		if i%7 != 0 { // a sample: the table test sends them all
			continue
		}
		path, query, _ := strings.Cut(in.path, "?")
		val := ""
		if p := inputPath(in.route); p != path {
			val = path[strings.LastIndexByte(path, '/')+1:]
		}
		ct := uint8(0)
		for j, c := range fuzzContentTypes {
			if c == in.contentType {
				ct = uint8(j)
			}
		}
		f.Add(index[in.route], val, query, ct, in.body)
	}
	// Each query and path parameter at the edges of the types behind it
	// (int8, dates), where PostgreSQL's types and Go's part ways.
	query := documentedQuery(f)
	for _, r := range routes {
		for _, v := range []string{"9223372036854775807", "0000-01-01"} {
			for _, q := range query[r] {
				f.Add(index[r], "", q+"="+v, uint8(0), []byte(nil))
			}
			if strings.Contains(r, "/:") {
				f.Add(index[r], v, "", uint8(0), []byte(routeBodies[r]))
			}
		}
	}
	huge := "1" + strings.Repeat("0", 400)
	for _, s := range []struct {
		route, val, query string
		ct                uint8
		body              string
	}{
		{"POST /v1/orders", "", "", 0, `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":` + huge + `}],"payer":{"name":"A","email":"a@b.vn"},"description":"d"}`},
		{"POST /v1/orders", "", "", 0, `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":"` + huge + `"}],"payer":{"name":"A","email":"a@b.vn"},"description":"d"}`},
		{"POST /v1/orders", "", "", 0, `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":5000.5}],"payer":{"name":"A","email":"a@b.vn"},"description":"d"}`},
		{"POST /v1/orders", "", "", 0, `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":5000}],"payer":{"name":"A","email":"a@b.vn"},"description":"` + strings.Repeat("đ", 600) + `"}`},
		{"POST /v1/orders", "", "", 0, `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":5000}],"payer":{"name":"\ud83d\ude00","email":"a@b.vn"},"description":"d","expires_at":"0001-01-01T00:00:00Z"}`},
		{"POST /v1/orders/:id/refunds", "00000000-0000-0000-0000-000000000001", "", 0, `{"lines":[{"line_no":99999999999999999999,"amount":1}],"expected_refundable":1e400}`},
		{"POST /v1/ledger/entries", "", "", 0, `{"reason":"r","effective_at":"9999-12-31T23:59:59Z","postings":[{"account":"suspense","direction":"debit","amount":1,"currency":"VND"},{"account":"overpayments","direction":"credit","amount":1,"currency":"VND"}]}`},
		{"POST /v1/keys", "", "", 0, `{"role":"portal","name":"` + strings.Repeat("x", 300) + `","expires_at":"0000-01-01T00:00:00Z"}`},
		{"PUT /v1/services/:code", strings.Repeat("Z", 60), "", 0, `{"agency_code":"AG-A","name":"n","kind":"fee","fixed_amount":"99999999999999999999"}`},
		{"GET /v1/orders", "", "limit=99999999999999999999&created_from=0000-01-01T00:00:00Z&cursor=%ff%00", 0, ""},
		{"GET /v1/ledger/entries", "", "from=9999-12-31T23:59:59%2B23:59&to=0000-01-01T00:00:00Z", 0, ""},
		{"GET /v1/revenue", "", "from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z&group_by=day,day", 0, ""},
		{"GET /v1/audit", "", "actor=" + strings.Repeat("a", 300) + "&from=2026-01-01T00:00:00Z", 0, ""},
		{"GET /v1/events", "", "subject=%ED%A0%80&after=msg_\xff", 0, ""},
		{"GET /v1/days/:date", "99999-01-01", "", 0, ""},
		{"POST /v1/days/:date/close", "0000-02-30", "", 0, `{"note":"n"}`},
		{"GET /v1/ledger/accounts/:code/balance", "agency:%00:collected", "", 0, ""},
		{"PATCH /v1/webhook-endpoints/:id", "00000000-0000-0000-0000-000000000001", "", 0, "\xef\xbb\xbf{}"},
		{"POST /v1/webhook-endpoints", "", "", 0, `{"url":"https://example.com/\u0000","events":["order.paid","order.paid"]}`},
		{"POST /v1/statements", "", "", 4, "--b\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''%00\r\n\r\nx\r\n--b--\r\n"},
		{"POST /pay/:ref", "RF00000000000000000", "", 5, "method=%00&gateway=%ff"},
		{"GET /callbacks/:gateway", "vnpay", "vnp_TxnRef=%00&vnp_SecureHash=\xff", 1, ""},
	} {
		f.Add(index[s.route], s.val, s.query, s.ct, []byte(s.body))
	}

	e := apptest.NewQuiet(f)
	w := newWrites(f, e.Pool)
	before := w.snapshot(f)
	n := 0
	f.Fuzz(func(t *testing.T, route uint8, val, query string, ct uint8, body []byte) {
		r := routes[int(route)%len(routes)]
		method, pattern, _ := strings.Cut(r, " ")
		path := inputPath(r)
		if val != "" { // the fuzzed value in the route's last parameter
			if i := strings.LastIndex(pattern, "/:"); i >= 0 {
				segs := strings.Split(path, "/")
				segs[strings.Count(pattern[:i], "/")+1] = escapeTarget(val, "/?")
				path = strings.Join(segs, "/")
			}
		}
		if query != "" {
			path += "?" + escapeTarget(query, "")
		}
		key := ""
		if roles, ok := routeRoles[r]; ok {
			key = map[string]string{portal: e.Portal, agency: e.AgencyA, treasury: e.Treasury, admin: e.Admin,
				adminTreasury: e.AdminTreasury}[roles[0]]
		}
		n++
		status, resBody := sendRaw(t, e, method, path, key, fuzzContentTypes[int(ct)%len(fuzzContentTypes)], body, fmt.Sprintf("fuzz-%d", n))
		if status >= 500 {
			t.Fatalf("%s %q (%d-byte body %.200q): %d %s", method, path, len(body), body, status, resBody)
		}
		after := w.snapshot(t)
		if status >= 400 && !equalMaps(before, after) {
			t.Fatalf("%s %q (%.200q): refused (%d %s) but wrote to %v", method, path, body, status, resBody, changed(before, after))
		}
		before = after
	})
}

// escapeTarget makes s fit in a request line: white space, control bytes,
// '#', and the bytes in also are percent-encoded; the rest (including '%',
// so a fuzzed "%00" stays an escape, and bytes that are not UTF-8) is sent
// as it is.
func escapeTarget(s, also string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || c == '#' || strings.IndexByte(also, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// sendRaw sends one HTTP/1.1 request over a new connection, the target
// exactly as given, and returns the status and body. A content type "-" is
// left out.
func sendRaw(t testing.TB, e *apptest.Env, method, target, key, contentType string, body []byte, idemKey string) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: civicpay.test\r\nConnection: close\r\nIdempotency-Key: %s\r\n", method, target, idemKey)
	if key != "" {
		fmt.Fprintf(&req, "Authorization: Bearer %s\r\n", key)
	}
	if len(body) > 0 {
		if contentType != "-" {
			fmt.Fprintf(&req, "Content-Type: %s\r\n", contentType)
		}
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	req.Write(body)
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %q: reading the response: %v", method, target, err)
	}
	return res.StatusCode, out
}
