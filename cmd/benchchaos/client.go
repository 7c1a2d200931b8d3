package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Routes as the tally names them.
const (
	routeCreate  = "POST /v1/orders"
	routeAttempt = "POST /v1/orders/{id}/attempts"
	routeSimPay  = "POST sim /admin/pay"
)

// expectFunc says whether a 5xx answer is one the scenario's fault makes
// expected (a 503 while the gateways are down) rather than a failure.
type expectFunc func(route string, status int, title string) bool

// tally counts a scenario's answers: 5xx (expected or not, by route, status
// and problem title) and network errors (by route).
type tally struct {
	expect     expectFunc
	mu         sync.Mutex
	unexpected int
	expected   int
	kinds      map[string]*seen // "route status title" -> count, unexpected ones marked
	netErrs    map[string]*seen
}

// seen counts one kind of answer and when it came first and last.
type seen struct {
	n           int
	first, last time.Time
}

func (s *seen) add(at time.Time) {
	if s.n == 0 {
		s.first = at
	}
	s.n++
	s.last = at
}

func see(m map[string]*seen, k string, at time.Time) {
	if m[k] == nil {
		m[k] = &seen{}
	}
	m[k].add(at)
}

func newTally(expect expectFunc) *tally {
	if expect == nil {
		expect = func(string, int, string) bool { return false }
	}
	return &tally{expect: expect, kinds: map[string]*seen{}, netErrs: map[string]*seen{}}
}

// answer records a civicpay answer.
func (t *tally) answer(route string, status int, body []byte) {
	if status < 500 {
		return
	}
	title := problemTitle(body)
	ok := t.expect(route, status, title)
	t.mu.Lock()
	defer t.mu.Unlock()
	mark := "UNEXPECTED"
	if ok {
		t.expected++
		mark = "expected"
	} else {
		t.unexpected++
	}
	see(t.kinds, fmt.Sprintf("%s %s %d %q", mark, route, status, title), time.Now())
}

// counts returns the unexpected and the expected 5xx answers.
func (t *tally) counts() (unexpected, expected int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unexpected, t.expected
}

// netErr counts a request that got no answer, by route and the error's
// kind (its text without addresses).
func (t *tally) netErr(route string, err error) {
	t.mu.Lock()
	see(t.netErrs, route+": "+errKind(err), time.Now())
	t.mu.Unlock()
}

// errKind is an error's text with the addresses and URLs taken out, so
// that errors of one kind count together.
func errKind(err error) string {
	var words []string
	for w := range strings.FieldsSeq(err.Error()) {
		if strings.Contains(w, "127.0.0.1") || strings.Contains(w, "http://") {
			continue
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}

// summary lists what was counted, one line per kind, with when it came
// relative to ref (the fault's end).
func (t *tally) summary(ref time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	line := func(what string, s *seen) string {
		return fmt.Sprintf("%6d × %s (from %+.1f s to %+.1f s of the fault's end)", s.n, what,
			s.first.Sub(ref).Seconds(), s.last.Sub(ref).Seconds())
	}
	var out []string
	for k, s := range t.kinds {
		out = append(out, line(k, s))
	}
	for k, s := range t.netErrs {
		out = append(out, line("network error "+k, s))
	}
	sort.Strings(out)
	return out
}

// problemTitle is the title of an RFC 9457 answer, or "" for anything else.
func problemTitle(body []byte) string {
	var p struct {
		Title string `json:"title"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Title
}

// api is one scenario's view of civicpay: the instances the client
// round-robins over, the portal key, and the tally.
type api struct {
	hc    *http.Client
	bases []string
	next  atomic.Uint64
	key   string
	tally *tally
	// cutAt (unix nanos) is when the scenario killed or stopped an instance;
	// cut counts requests sent before it that got no answer after it.
	cutAt, cut atomic.Int64
}

func (a *api) markCut(t time.Time) { a.cutAt.Store(t.UnixNano()) }

// newHTTPClient is a client for up to maxConns connections at once. A
// connection refused (an instance down) fails at once; the dial timeout
// only bounds a connect that gets no answer at all.
func newHTTPClient(maxConns int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxIdleConnsPerHost: maxConns,
			IdleConnTimeout:     10 * time.Second,
		},
	}
}

// base is the next instance in turn.
func (a *api) base() string {
	return a.bases[int(a.next.Add(1)-1)%len(a.bases)]
}

// post sends body to the next instance. A network error (connection
// refused while an instance is down, a connection cut by a kill) is
// returned as err; any answer is returned with its status.
func (a *api) post(ctx context.Context, route, path, idemKey, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base()+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.key)
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	sent := time.Now().UnixNano()
	status, out, err := do(a.hc, req)
	if err != nil {
		if ctx.Err() == nil {
			a.tally.netErr(route, err)
		}
		if c := a.cutAt.Load(); c != 0 && sent < c && time.Now().UnixNano() > c {
			a.cut.Add(1)
		}
		return 0, nil, err
	}
	a.tally.answer(route, status, out)
	return status, out, nil
}

func do(hc *http.Client, req *http.Request) (int, []byte, error) {
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, out, nil
}

// sim is the gateway simulator's admin API.
type sim struct {
	hc   *http.Client
	base string
}

func (s *sim) call(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	status, b, err := do(s.hc, req)
	if err != nil {
		return 0, err
	}
	if status >= 300 {
		return status, fmt.Errorf("%s %s: status %d: %.300s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return status, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return status, nil
}

// faults sets the same faults on every simulated gateway with an API
// (nil clears them).
func (s *sim) faults(ctx context.Context, f map[string]any) error {
	if f == nil {
		f = map[string]any{}
	}
	for _, g := range gateways {
		if _, err := s.call(ctx, http.MethodPost, "/admin/faults/"+g, f, nil); err != nil {
			return err
		}
	}
	return nil
}

// status is a transaction's status at the simulated gateway ("" when it
// does not know it).
func (s *sim) status(ctx context.Context, gateway, ref string) (string, error) {
	var out struct {
		Transactions []struct {
			Status string `json:"status"`
		} `json:"transactions"`
	}
	if _, err := s.call(ctx, http.MethodGet, "/admin/transactions?gateway="+gateway+"&ref="+ref, nil, &out); err != nil {
		return "", err
	}
	if len(out.Transactions) == 0 {
		return "", nil
	}
	return out.Transactions[0].Status, nil
}

// callbacksInFlight waits up to d for the simulator's callbacks in flight
// to finish and returns how many still are.
func (s *sim) callbacksInFlight(ctx context.Context, d time.Duration) (int, error) {
	var out struct {
		InFlight int `json:"in_flight"`
	}
	// The ref matches nothing, so the answer lists no attempts.
	_, err := s.call(ctx, http.MethodGet, fmt.Sprintf("/admin/callbacks?gateway=momo&ref=none&wait=%s", d), nil, &out)
	return out.InFlight, err
}
