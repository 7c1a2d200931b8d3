package app_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// tooMany checks a 429 problem+json with a Retry-After of whole seconds,
// whose detail names the limit.
func tooMany(t *testing.T, what string, r apptest.Response, limit string) {
	t.Helper()
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != http.StatusTooManyRequests || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") ||
		err != nil || ra < 1 || !strings.Contains(string(r.Body), limit) {
		t.Fatalf("%s: %d %s Retry-After %q %s; want 429 problem+json with Retry-After, %q", what, r.Status,
			r.Header.Get("Content-Type"), r.Header.Get("Retry-After"), r.Body, limit)
	}
}

func newOrder(t *testing.T, e *apptest.Env, key string) (id, ref string) {
	t.Helper()
	var o struct{ ID, Reference string }
	r := e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],
		"payer":{"name":"Trần Thị Bình","email":"binh@example.vn"},"description":"Lệ phí"}`, "Idempotency-Key", key)
	if r.Status != http.StatusCreated {
		t.Fatalf("create order: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &o)
	return o.ID, o.Reference
}

// An API key has its own budget: past it, 429 with Retry-After; another key
// from the same address is not affected.
func TestRateLimitPerAPIKey(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *config.Config) { c.Limits.RatePerKey = 3 })
	for i := range 3 {
		if r := e.Do(t, "GET", "/v1/orders", e.Portal, nil); r.Status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	tooMany(t, "4th request with one key", e.Do(t, "GET", "/v1/orders", e.Portal, nil), "per API key")
	if r := e.Do(t, "GET", "/v1/orders", e.Portal2, nil); r.Status != http.StatusOK {
		t.Fatalf("another key: %d %s", r.Status, r.Body)
	}
}

// A client address has a budget before authentication: outside /v1 every
// request counts, a header naming another client is not believed from an
// untrusted peer, and gateway callbacks are never limited; under /v1 only
// failures count (a key guesser is stopped, a working key is not).
func TestRateLimitPerClientIP(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *config.Config) { c.Limits.RatePerIP = 3 })
	for i := range 3 {
		if r := e.Do(t, "GET", "/openapi.json", "", nil, "X-Real-IP", fmt.Sprintf("203.0.113.%d", i)); r.Status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, r.Status)
		}
	}
	tooMany(t, "4th request from one address", e.Do(t, "GET", "/openapi.json", "", nil, "X-Real-IP", "198.51.100.9"), "per client IP")
	for i := range 5 {
		if r := e.Do(t, "POST", "/callbacks/nosuchgateway", "", `{}`); r.Status == http.StatusTooManyRequests {
			t.Fatalf("callback %d was rate limited", i+1)
		}
	}
	for i := range 5 {
		if r := e.Do(t, "GET", "/v1/orders", e.Portal, nil); r.Status != http.StatusOK {
			t.Fatalf("authenticated request %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	bad := "cpk_0123456789ab_" + strings.Repeat("A", 32)
	for i := range 3 {
		if r := e.Do(t, "GET", "/v1/orders", bad, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("unknown key %d: %d", i+1, r.Status)
		}
	}
	tooMany(t, "4th unknown key", e.Do(t, "GET", "/v1/orders", bad, nil), "per client IP")
}

// Behind a trusted proxy, the client is the one its header names.
func TestClientIPFromTrustedProxy(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *config.Config) {
		c.Limits.RatePerIP, c.Limits.TrustedProxies, c.Limits.ProxyHeader = 2, []string{"127.0.0.0/8"}, "X-Real-IP"
	})
	for i := range 2 {
		if r := e.Do(t, "GET", "/openapi.json", "", nil, "X-Real-IP", "203.0.113.7"); r.Status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, r.Status)
		}
	}
	tooMany(t, "3rd request of one client", e.Do(t, "GET", "/openapi.json", "", nil, "X-Real-IP", "203.0.113.7"), "per client IP")
	if r := e.Do(t, "GET", "/openapi.json", "", nil, "X-Real-IP", "203.0.113.8"); r.Status != http.StatusOK {
		t.Fatalf("another client behind the proxy: %d", r.Status)
	}
}

// The citizen pages are limited per payment reference and per client address.
func TestRateLimitCitizenPages(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *config.Config) { c.Limits.PagesPerIP, c.Limits.PagesPerRef = 4, 2 })
	_, ref1 := newOrder(t, e, "pages-limit-1")
	_, ref2 := newOrder(t, e, "pages-limit-2")
	for i, p := range []string{"/pay/" + ref1, "/receipts/" + ref1 + "/verify?code=ABCD"} {
		if r := e.Do(t, "GET", p, "", nil); r.Status == http.StatusTooManyRequests {
			t.Fatalf("page %d: 429", i+1)
		}
	}
	tooMany(t, "3rd page of one reference", e.Do(t, "GET", "/return/"+ref1, "", nil), "per payment reference")
	if r := e.Do(t, "GET", "/pay/"+ref2, "", nil); r.Status != http.StatusOK {
		t.Fatalf("another reference: %d", r.Status)
	}
	tooMany(t, "5th page from one address", e.Do(t, "GET", "/pay/"+ref2, "", nil), "per client IP")
}

func simTransactions(e *apptest.Env) int {
	return len(e.Sim.Transactions(gatewaysim.TransactionFilter{}))
}

// The 6th open attempt on one order is a 429 with Retry-After, through the
// API and through the pay page, and no gateway is asked to create it.
func TestSixthOpenAttemptIsRefused(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t, func(c *config.Config) { c.Limits.MaxOpenAttempts = 5 })
	id, ref := newOrder(t, e, "cap-1")
	start := func() apptest.Response {
		return e.Do(t, "POST", "/v1/orders/"+id+"/attempts", e.Portal, `{"method":"card","gateway":"vnpay"}`)
	}
	for i := range 5 {
		if r := start(); r.Status != http.StatusCreated {
			t.Fatalf("attempt %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	created := simTransactions(e)
	r := start()
	tooMany(t, "6th attempt", r, "too many open payment attempts")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra > 15*60 {
		t.Errorf("Retry-After %d s: more than the attempts' 15 minutes", ra)
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(e.URL+"/pay/"+ref+"?lang=en", url.Values{"method": {"ewallet:momo"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(page), "Too many payments are already waiting") {
		t.Fatalf("pay page's 6th attempt: %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if n := simTransactions(e); n != created {
		t.Fatalf("the gateways were asked for %d more payments after the cap", n-created)
	}
}

// Starts racing on one order cannot pass the cap together.
func TestOpenAttemptCapHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	const max, racers = 3, 12
	e := apptest.NewWithSim(t, func(c *config.Config) { c.Limits.MaxOpenAttempts = max })
	id, _ := newOrder(t, e, "cap-race")
	statuses := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			// VietQR makes its attempt without a network call: the starts meet
			// at the database.
			statuses[i] = e.Do(t, "POST", "/v1/orders/"+id+"/attempts", e.Portal, `{"method":"bank_transfer"}`).Status
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if counts[http.StatusCreated] != max || counts[http.StatusTooManyRequests] != racers-max {
		t.Fatalf("statuses %v, want %d × 201 and %d × 429", counts, max, racers-max)
	}
	var n int
	if err := e.Pool.QueryRow(t.Context(), `SELECT count(*) FROM payment_attempts WHERE order_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != max {
		t.Fatalf("%d attempts recorded, want %d", n, max)
	}
}

// A client that sends its headers slowly is cut off after the read timeout
// (slowloris); the server stays up for others.
func TestSlowHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *config.Config) { c.Limits.ReadTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, conn) // returns when the server closes the connection
		closed <- err
	}()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: civicpay\r\n"); err != nil {
		t.Fatal(err)
	}
	// One header line every 100ms, for at most 20s: far past the 300ms timeout,
	// far short of the 5 minutes the server allowed before.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(20 * time.Second)
	for i := 0; ; i++ {
		select {
		case <-closed:
			if r := e.Do(t, "GET", "/healthz", "", nil); r.Status != http.StatusOK {
				t.Fatalf("healthz after the slow client: %d", r.Status)
			}
			return
		case <-giveUp:
			t.Fatal("a client sending a header line every 100ms was still connected after 20s")
		case <-tick.C:
			_, _ = fmt.Fprintf(conn, "X-Slow-%d: x\r\n", i) // fails once closed: the reader tells
		}
	}
}

// One address holds at most CIVICPAY_MAX_CONNS_PER_IP connections: one more
// is answered 429 and closed; a slot frees when a connection closes.
func TestConnectionCapPerIP(t *testing.T) {
	t.Parallel()
	const max = 3
	e := apptest.New(t, func(c *config.Config) { c.Limits.MaxConnsPerIP = max })
	addr := strings.TrimPrefix(e.URL, "http://")
	get := func(c net.Conn) (int, error) {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: civicpay\r\n\r\n"); err != nil {
			return 0, err
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	var conns []net.Conn
	for i := range max {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if s, err := get(c); err != nil || s != http.StatusOK {
			t.Fatalf("connection %d: %d %v", i+1, s, err)
		}
		conns = append(conns, c)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if s, err := get(extra); err == nil && s != http.StatusTooManyRequests {
		t.Fatalf("connection %d: %d, want 429 (or refused)", max+1, s)
	}
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("the refused connection is still open")
	}

	conns[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := get(c)
		c.Close()
		if s == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection slot came free after one was closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
