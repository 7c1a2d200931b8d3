package payments_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/payments"
)

func orderBody(amount string) string {
	return `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":` + amount + `}],
		"payer":{"name":"Nguyễn Văn An","national_id":"079203001234","email":"an@example.vn"},
		"description":"Phiếu lý lịch tư pháp","metadata":{"case":"LLTP-1"}}`
}

type orderJSON struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	Status    string `json:"status"`
	Total     string `json:"total"`
	Agency    string `json:"agency"`
	PayURL    string `json:"pay_url"`
	Payer     struct {
		NationalID string `json:"national_id"`
	} `json:"payer"`
}

type problemJSON struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Errors []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

func create(t *testing.T, e *apptest.Env, key, idem, body string) apptest.Response {
	t.Helper()
	return e.Do(t, "POST", "/v1/orders", key, body, "Idempotency-Key", idem)
}

func TestCreateOrderIdempotency(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)

	first := create(t, e, e.Portal, "key-1", orderBody("200000"))
	if first.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", first.Status, first.Body)
	}
	var o1 orderJSON
	first.JSON(t, &o1)
	if o1.Status != "open" || o1.Total != "200000" || !strings.HasSuffix(o1.PayURL, "/pay/"+o1.Reference) {
		t.Fatalf("unexpected order %+v", o1)
	}

	// Same key, same request (different whitespace): the original order, 200.
	again := create(t, e, e.Portal, "key-1", strings.ReplaceAll(orderBody("200000"), "\n", " "))
	var o2 orderJSON
	again.JSON(t, &o2)
	if again.Status != http.StatusOK || o2.ID != o1.ID {
		t.Fatalf("replay = %d %s, want 200 with id %s", again.Status, again.Body, o1.ID)
	}

	// Same key, different request: 422.
	diff := create(t, e, e.Portal, "key-1", strings.Replace(orderBody("200000"), "LLTP-1", "LLTP-2", 1))
	if diff.Status != http.StatusUnprocessableEntity {
		t.Fatalf("different body = %d %s, want 422", diff.Status, diff.Body)
	}

	// The same key from another client is a different key.
	other := create(t, e, e.Portal2, "key-1", orderBody("200000"))
	var o3 orderJSON
	other.JSON(t, &o3)
	if other.Status != http.StatusCreated || o3.ID == o1.ID {
		t.Fatalf("other client = %d %s", other.Status, other.Body)
	}
}

func TestConcurrentIdenticalCreatesMakeOneOrder(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	const n = 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		ids      = map[string]bool{}
	)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := create(t, e, e.Portal, "race-key", orderBody("200000"))
			mu.Lock()
			defer mu.Unlock()
			statuses[r.Status]++
			if r.Status == 200 || r.Status == 201 {
				var o orderJSON
				r.JSON(t, &o)
				ids[o.ID] = true
			}
		}()
	}
	close(start)
	wg.Wait()
	if statuses[http.StatusCreated] != 1 || statuses[200]+statuses[201]+statuses[409] != n || len(ids) != 1 {
		t.Fatalf("statuses %v, distinct ids %d: want exactly one 201, the rest 200 or 409, one id", statuses, len(ids))
	}
	var count int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Fatalf("%d orders in the database, want 1", count)
	}
}

func TestCreateOrderValidation(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	tests := []struct {
		name   string
		body   string
		idem   string
		status int
		field  string
	}{
		{"fractional VND", orderBody("200000.5"), "v1", 422, "lines[0].amount"},
		{"fractional VND in a range", `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":"1500.01"}],"payer":{"name":"A","phone":"0901234567"},"description":"d"}`, "v2", 422, "lines[0].amount"},
		{"wrong fixed amount", orderBody("199999"), "v3", 422, "lines[0].amount"},
		{"unknown service", strings.Replace(orderBody("200000"), "A-FEE", "NOPE", 1), "v4", 422, "lines[0].service"},
		{"wrong agency", strings.Replace(orderBody("200000"), `"agency":"AG-A"`, `"agency":"AG-B"`, 1), "v5", 422, "lines[0].agency"},
		{"unknown field", `{"lines":[],"surprise":1}`, "v6", 400, "surprise"},
		{"wrong type", `{"lines":"many"}`, "v7", 400, "lines"},
		{"malformed JSON", `{"lines":[`, "v8", 400, "body"},
		{"empty body", ``, "v9", 400, "body"},
		{"no lines", `{"lines":[],"payer":{"name":"A","email":"a@b.vn"},"description":"d"}`, "v10", 422, "lines"},
		{"six lines", `{"lines":[` + strings.Repeat(`{"service":"A-FINE","agency":"AG-A","amount":1000},`, 5) + `{"service":"A-FINE","agency":"AG-A","amount":1000}],"payer":{"name":"A","email":"a@b.vn"},"description":"d"}`, "v11", 422, "lines"},
		{"bad national id", strings.Replace(orderBody("200000"), "079203001234", "12AB", 1), "v12", 422, "payer.national_id"},
		{"no contact", `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],"payer":{"name":"A"},"description":"d"}`, "v13", 422, "payer.email"},
		{"too much metadata", `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],"payer":{"name":"A","email":"a@b.vn"},"description":"d","metadata":{` + manyKeys(21) + `}}`, "v14", 422, "metadata"},
		{"expiry beyond maximum", `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],"payer":{"name":"A","email":"a@b.vn"},"description":"d","expires_at":"2099-01-01T00:00:00Z"}`, "v15", 422, "expires_at"},
		{"missing idempotency key", orderBody("200000"), "", 400, "header.Idempotency-Key"},
		{"negative amount", `{"lines":[{"service":"A-FINE","agency":"AG-A","amount":-5}],"payer":{"name":"A","email":"a@b.vn"},"description":"d"}`, "v16", 422, "lines[0].amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := create(t, e, e.Portal, tt.idem, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
			var p problemJSON
			r.JSON(t, &p)
			if len(p.Errors) == 0 || p.Errors[0].Field != tt.field {
				t.Fatalf("field %+v, want %q: %s", p.Errors, tt.field, r.Body)
			}
		})
	}
	var count int
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&count)
	if count != 0 {
		t.Fatalf("invalid requests created %d orders", count)
	}
}

func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	return strings.Join(parts, ",")
}

func TestMalformedRequestsAreClientErrors(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	tests := []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"no key", "GET", "/v1/orders", "", "", 401},
		{"garbage key", "GET", "/v1/orders", "nope", "", 401},
		{"revoked-looking key", "GET", "/v1/orders", "cpk_000000000000_aaaaaaaaaaaaaaaaaaaaaaaa", "", 401},
		{"malformed id", "GET", "/v1/orders/not-a-uuid", e.Portal, "", 400},
		{"unknown id", "GET", "/v1/orders/01900000-0000-7000-8000-000000000000", e.Portal, "", 404},
		{"malformed reference", "GET", "/v1/orders/by-reference/RF00123", e.Portal, "", 400},
		{"bad status filter", "GET", "/v1/orders?status=lost", e.Portal, "", 400},
		{"bad time filter", "GET", "/v1/orders?created_from=yesterday", e.Portal, "", 400},
		{"bad limit", "GET", "/v1/orders?limit=100000", e.Portal, "", 400},
		{"bad cursor", "GET", "/v1/orders?cursor=%%%", e.Portal, "", 400},
		{"unknown route", "GET", "/v1/nothing-here", e.Portal, "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := e.Do(t, tt.method, tt.path, tt.key, body, "Idempotency-Key", "m-"+tt.name)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %.300s", r.Status, tt.status, r.Body)
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("content type %q: %.200s", r.Header.Get("Content-Type"), r.Body)
			}
		})
	}
}

// TestOversizedBodyIs413 sends a body four times the limit: the answer is a
// problem+json 413 and nothing is created. (The body is sent whole, as a real
// client would, while the answer is read.)
func TestOversizedBodyIs413(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"description":"` + strings.Repeat("x", 4<<20) + `"}`
	go func() {
		fmt.Fprintf(conn, "POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIdempotency-Key: big\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", e.Portal, len(body), body)
	}()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("status %d %q, want 413 problem+json", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestAgencyIsolationAndMasking(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	r := create(t, e, e.Portal, "iso-1", orderBody("200000"))
	var o orderJSON
	r.JSON(t, &o)
	if o.Payer.NationalID != "079203001234" {
		t.Fatalf("the creating portal should see the full national id, got %q", o.Payer.NationalID)
	}

	// Agency A sees its order, masked; agency B gets 404 everywhere.
	var seen orderJSON
	ra := e.Do(t, "GET", "/v1/orders/"+o.ID, e.AgencyA, nil)
	ra.JSON(t, &seen)
	if ra.Status != 200 || seen.Payer.NationalID != "*********234" {
		t.Fatalf("agency A: %d national_id %q", ra.Status, seen.Payer.NationalID)
	}
	for _, path := range []string{"/v1/orders/" + o.ID, "/v1/orders/by-reference/" + o.Reference, "/v1/orders/" + o.ID + "/events"} {
		if rb := e.Do(t, "GET", path, e.AgencyB, nil); rb.Status != 404 {
			t.Fatalf("agency B GET %s = %d, want 404", path, rb.Status)
		}
	}
	if rb := e.Do(t, "POST", "/v1/orders/"+o.ID+"/cancel", e.AgencyB, nil); rb.Status != 404 {
		t.Fatalf("agency B cancel = %d, want 404", rb.Status)
	}
	var list struct {
		Data []orderJSON `json:"data"`
	}
	e.Do(t, "GET", "/v1/orders", e.AgencyB, nil).JSON(t, &list)
	if len(list.Data) != 0 {
		t.Fatalf("agency B lists %d orders of agency A", len(list.Data))
	}
	if rb := e.Do(t, "GET", "/v1/orders?agency=AG-A", e.AgencyB, nil); rb.Status != 404 {
		t.Fatalf("agency B listing agency A = %d, want 404", rb.Status)
	}
	// Another portal does not see it either.
	if rp := e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal2, nil); rp.Status != 404 {
		t.Fatalf("other portal = %d, want 404", rp.Status)
	}
	// Lists mask the national id even for the creator.
	e.Do(t, "GET", "/v1/orders", e.Portal, nil).JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].Payer.NationalID != "*********234" {
		t.Fatalf("portal list = %+v", list.Data)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	tests := []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"portal cannot create keys", "POST", "/v1/keys", e.Portal, `{"role":"admin"}`, 403},
		{"portal cannot list keys", "GET", "/v1/keys", e.Portal, "", 403},
		{"portal cannot change agencies", "PUT", "/v1/agencies/AG-A", e.Portal, `{"name":"x","treasury_account":"y"}`, 403},
		{"portal cannot change services", "PUT", "/v1/services/A-FEE", e.Portal, `{"agency_code":"AG-A","name":"x","kind":"fee","fixed_amount":1}`, 403},
		{"agency cannot create orders", "POST", "/v1/orders", e.AgencyA, orderBody("200000"), 403},
		{"treasury cannot create orders", "POST", "/v1/orders", e.Treasury, orderBody("200000"), 403},
		{"agency cannot create keys", "POST", "/v1/keys", e.AgencyA, `{"role":"admin"}`, 403},
		{"admin creates a key", "POST", "/v1/keys", e.Admin, `{"role":"agency","agency_code":"AG-B","name":"b"}`, 201},
		{"admin key for unknown agency", "POST", "/v1/keys", e.Admin, `{"role":"agency","agency_code":"NOPE"}`, 422},
		{"admin changes a service", "PUT", "/v1/services/A-NEW", e.Admin, `{"agency_code":"AG-A","name":"New","kind":"tax","min_amount":1000,"max_amount":2000}`, 200},
		{"admin service with fractional VND", "PUT", "/v1/services/A-BAD", e.Admin, `{"agency_code":"AG-A","name":"Bad","kind":"tax","fixed_amount":"10.5"}`, 422},
		{"anyone reads the catalogue", "GET", "/v1/services", e.AgencyB, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body any
			if tt.body != "" {
				body = tt.body
			}
			if r := e.Do(t, tt.method, tt.path, tt.key, body, "Idempotency-Key", "r-"+tt.name); r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
		})
	}
}

func TestKeysAreShownOnceAndRevocable(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	var created struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	e.Do(t, "POST", "/v1/keys", e.Admin, `{"role":"portal","name":"p"}`).JSON(t, &created)
	if e.Do(t, "GET", "/v1/orders", created.Secret, nil).Status != 200 {
		t.Fatal("new key does not work")
	}
	list := e.Do(t, "GET", "/v1/keys", e.Admin, nil)
	if strings.Contains(string(list.Body), created.Secret[17:]) || strings.Contains(string(list.Body), "secret") {
		t.Fatalf("key list leaks secrets: %s", list.Body)
	}
	if r := e.Do(t, "POST", "/v1/keys/"+created.ID+"/revoke", e.Admin, nil); r.Status != 200 {
		t.Fatalf("revoke = %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/v1/orders", created.Secret, nil); r.Status != 401 {
		t.Fatalf("revoked key = %d, want 401", r.Status)
	}
	var stored []byte
	if err := e.Pool.QueryRow(context.Background(), `SELECT secret_hash FROM api_keys WHERE id = $1`, created.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), created.Secret[17:]) {
		t.Fatal("the secret is stored in clear")
	}
}

func TestCancelOnlyWhileOpen(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	var o orderJSON
	create(t, e, e.Portal, "c-1", orderBody("200000")).JSON(t, &o)
	if r := e.Do(t, "POST", "/v1/orders/"+o.ID+"/cancel", e.AgencyA, `{"reason":"citizen withdrew"}`); r.Status != 200 {
		t.Fatalf("cancel = %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/v1/orders/"+o.ID+"/cancel", e.Portal, nil); r.Status != 409 {
		t.Fatalf("second cancel = %d, want 409", r.Status)
	}
	var events struct {
		Data []payments.OrderEvent `json:"data"`
	}
	e.Do(t, "GET", "/v1/orders/"+o.ID+"/events", e.Portal, nil).JSON(t, &events)
	if len(events.Data) != 2 || events.Data[0].Type != "order.created" || events.Data[1].Type != "order.cancelled" ||
		!strings.HasPrefix(events.Data[1].Actor, "agency:") {
		t.Fatalf("events = %+v", events.Data)
	}
	// The cancel is audited once (the refused second one not at all), naming the key and the reason.
	var n int
	var actor, reason string
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*), min(actor), min(after->>'reason') FROM audit_log
		WHERE action = 'order.cancel' AND resource_id = $1`, o.ID).Scan(&n, &actor, &reason); err != nil {
		t.Fatal(err)
	}
	if n != 1 || !strings.HasPrefix(actor, "key:") || reason != "citizen withdrew" {
		t.Fatalf("audit: %d rows, actor %q, reason %q", n, actor, reason)
	}
}

func TestKeysetPagination(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		var o orderJSON
		create(t, e, e.Portal, fmt.Sprintf("page-%d", i), orderBody("200000")).JSON(t, &o)
		want[o.ID] = true
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		var page struct {
			Data       []orderJSON `json:"data"`
			NextCursor string      `json:"next_cursor"`
		}
		e.Do(t, "GET", "/v1/orders?limit=3&agency=AG-A&status=open&cursor="+cursor, e.Treasury, nil).JSON(t, &page)
		for _, o := range page.Data {
			if seen[o.ID] {
				t.Fatalf("order %s on two pages", o.ID)
			}
			seen[o.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != len(want) {
		t.Fatalf("paged through %d orders, want %d", len(seen), len(want))
	}
}

// orderBodyExpiring is orderBody due at expires.
func orderBodyExpiring(amount string, expires time.Time) string {
	return strings.Replace(orderBody(amount), `"metadata"`, `"expires_at":"`+expires.UTC().Format(time.RFC3339)+`","metadata"`, 1)
}

// Orders expire by the app's clock: a day later by the clock, the orders of
// the default expiry (24 h) are due and one due in two days is not.
func TestExpiryJobIsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	clk := clock.NewRunning(time.Now())
	e := apptest.New(t, apptest.WithClock(clk))
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		create(t, e, e.Portal, fmt.Sprintf("exp-%d", i), orderBody("200000"))
	}
	var keep orderJSON
	create(t, e, e.Portal, "exp-keep", orderBodyExpiring("200000", clk.Now().Add(48*time.Hour))).JSON(t, &keep)
	if n, err := e.App.Orders.ExpireDue(ctx, 7); err != nil || n != 0 {
		t.Fatalf("expired %d (%v) before any order is due", n, err)
	}
	clk.Advance(25 * time.Hour)
	// Two instances at once: together they expire each order exactly once.
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := e.App.Orders.ExpireDue(ctx, 7)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != 30 {
		t.Fatalf("expired %v, want 30 in total", counts)
	}
	if n, err := e.App.Orders.ExpireDue(ctx, 7); err != nil || n != 0 {
		t.Fatalf("second run expired %d (%v), want 0", n, err)
	}
	var expired, events int
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE status = 'expired'`).Scan(&expired)
	_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE type = 'order.expired'`).Scan(&events)
	if expired != 30 || events != 30 {
		t.Fatalf("%d expired orders, %d expiry events; want 30 and 30", expired, events)
	}
	var o orderJSON
	e.Do(t, "GET", "/v1/orders/"+keep.ID, e.Portal, nil).JSON(t, &o)
	if o.Status != "open" {
		t.Fatalf("order not yet due is %s", o.Status)
	}
}

func TestExpiryRunsAsRiverJob(t *testing.T) {
	t.Parallel()
	clk := clock.NewRunning(time.Now())
	e := apptest.New(t, apptest.WithClock(clk), func(c *apptestConfig) { c.ExpiryInterval = 200 * time.Millisecond })
	var o orderJSON
	create(t, e, e.Portal, "river-exp", orderBody("200000")).JSON(t, &o)
	clk.Advance(24*time.Hour + time.Second) // past the default expiry, by the app's clock
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var got orderJSON
		e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal, nil).JSON(t, &got)
		if got.Status == "expired" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the periodic River job did not expire the order within 15s")
}
