package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// balancer stands where a load balancer stands in front of civicpay for
// the gateways' callbacks (the service's CIVICPAY_PUBLIC_URL): round robin
// over the instances that are up, and, like nginx's proxy_next_upstream
// error, a request whose connection could not even be opened goes to the
// next instance. A request that reached an instance is never sent twice
// (the gateway retries it, as it would behind a real balancer); with no
// instance reachable the answer is 502.
type balancer struct {
	mu   sync.Mutex
	ups  []string // host:port
	next int
	tr   *http.Transport

	forwarded, upstream5xx, unreachable, failed atomic.Int64
	fiveMu                                      sync.Mutex
	fives                                       map[string]int // what went wrong, by path: "method path: what"
}

func (b *balancer) note(what string) {
	b.fiveMu.Lock()
	if b.fives == nil {
		b.fives = map[string]int{}
	}
	b.fives[what]++
	b.fiveMu.Unlock()
}

func newBalancer() *balancer {
	return &balancer{tr: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     10 * time.Second,
	}}
}

// set replaces the instances behind the balancer.
func (b *balancer) set(ups ...string) {
	b.mu.Lock()
	b.ups = append([]string(nil), ups...)
	b.mu.Unlock()
}

// order is the instances to try for the next request, its turn first.
func (b *balancer) order() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.ups)
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, b.ups[(b.next+i)%n])
	}
	b.next++
	return out
}

// resetStats zeroes the counters (at a scenario's start) and returns them,
// with what went wrong (5xx answers, cuts, no instance) by path.
func (b *balancer) resetStats() (forwarded, upstream5xx, unreachable, failed int64, fives map[string]int) {
	b.fiveMu.Lock()
	fives, b.fives = b.fives, nil
	b.fiveMu.Unlock()
	return b.forwarded.Swap(0), b.upstream5xx.Swap(0), b.unreachable.Swap(0), b.failed.Swap(0), fives
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	for _, up := range b.order() {
		req := r.Clone(r.Context())
		req.RequestURI = ""
		req.URL.Scheme, req.URL.Host = "http", up
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		req.GetBody = nil // never replayed by the transport: sent once or not at all
		res, err := b.tr.RoundTrip(req)
		if err != nil {
			if isDialError(err) {
				continue
			}
			b.failed.Add(1)
			b.note(fmt.Sprintf("%s %s: cut: %s", r.Method, r.URL.Path, errKind(err)))
			http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
			return
		}
		b.forwarded.Add(1)
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 {
			b.upstream5xx.Add(1)
			b.note(fmt.Sprintf("%s %s: answered %d %.120s", r.Method, r.URL.Path, res.StatusCode, out))
		}
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(out)
		return
	}
	b.unreachable.Add(1)
	b.note(fmt.Sprintf("%s %s: no instance reachable", r.Method, r.URL.Path))
	http.Error(w, "no civicpay instance reachable", http.StatusBadGateway)
}

// isDialError reports whether err happened opening the connection, before
// anything of the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
