package gatewaysim

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// outgoing is a callback ready to go, correctly and badly signed.
type outgoing struct {
	gateway, ref string
	method       string // GET (VNPAY) or POST
	contentType  string
	good, bad    callbackMsg
	verdict      func(status int, body []byte) verdict
}

// callbackMsg is one signing of a callback: the full URL and the body.
type callbackMsg struct {
	url  string
	body []byte
}

// verdict is what a gateway makes of the merchant's answer to a callback.
type verdict int

const (
	retry     verdict = iota // no answer, an error, or an answer asking for a retry
	delivered                // acknowledged
	refused                  // refused for good: retrying would not help
)

// Callback attempt outcomes (CallbackAttempt.Outcome).
const (
	CallbackDelivered = "delivered"
	CallbackRefused   = "refused"
	CallbackRetry     = "retry"
	CallbackGaveUp    = "gave_up"
	CallbackDropped   = "dropped"
	CallbackNoURL     = "no_url"
)

// CallbackAttempt is one try at delivering one copy of a callback.
type CallbackAttempt struct {
	Gateway      string    `json:"gateway"`
	Ref          string    `json:"ref"`
	Copy         int       `json:"copy,omitempty"`
	Attempt      int       `json:"attempt,omitempty"`
	URL          string    `json:"url,omitempty"` // without the query string
	BadSignature bool      `json:"bad_signature,omitempty"`
	Status       int       `json:"status,omitempty"` // HTTP status; 0 without an answer
	Answer       string    `json:"answer,omitempty"` // the answer's first bytes
	Error        string    `json:"error,omitempty"`
	Outcome      string    `json:"outcome"`
	At           time.Time `json:"at"`
}

// Bounds of the callback machinery.
const (
	maxBackoff    = 30 * time.Second
	answerPreview = 200
	logSize       = 10_000
)

// dispatcher runs callbacks in the background, each under its own deadline,
// and stops them all on close.
type dispatcher struct {
	ctx      context.Context
	cancel   context.CancelFunc
	sem      chan struct{}
	mu       sync.Mutex
	closed   bool
	wg       sync.WaitGroup
	inflight atomic.Int64

	logMu sync.Mutex
	log   []CallbackAttempt // ring of the last logSize attempts
	next  int
}

func newDispatcher(concurrency int) *dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &dispatcher{ctx: ctx, cancel: cancel, sem: make(chan struct{}, concurrency)}
}

// begin registers a background callback; false once closed.
func (d *dispatcher) begin() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.wg.Add(1)
	d.inflight.Add(1)
	return true
}

func (d *dispatcher) end() {
	d.inflight.Add(-1)
	d.wg.Done()
}

// close stops every pending callback and waits for them to return.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

// wait sleeps for t; false when the dispatcher closed meanwhile.
func (d *dispatcher) wait(t time.Duration) bool {
	if t <= 0 {
		return d.ctx.Err() == nil
	}
	timer := time.NewTimer(t)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-d.ctx.Done():
		return false
	}
}

func (d *dispatcher) record(a CallbackAttempt) {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	if len(d.log) < logSize {
		d.log = append(d.log, a)
		return
	}
	d.log[d.next] = a
	d.next = (d.next + 1) % logSize
}

// attempts returns the logged attempts, oldest first, that match.
func (d *dispatcher) attempts(gateway, ref string) []CallbackAttempt {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	out := make([]CallbackAttempt, 0, len(d.log))
	for i := range d.log {
		a := d.log[(d.next+i)%len(d.log)]
		if (gateway == "" || a.Gateway == gateway) && (ref == "" || a.Ref == ref) {
			out = append(out, a)
		}
	}
	return out
}

// dispatch sends o in the background, applying the gateway's callback faults.
func (s *Sim) dispatch(o outgoing) {
	f := s.Faults(o.gateway)
	now := s.cfg.Now()
	switch {
	case o.good.url == "":
		s.cb.record(CallbackAttempt{Gateway: o.gateway, Ref: o.ref, Outcome: CallbackNoURL, At: now})
		return
	case chance(f.CallbackDropRate):
		s.cb.record(CallbackAttempt{Gateway: o.gateway, Ref: o.ref, URL: stripQuery(o.good.url), Outcome: CallbackDropped, At: now})
		return
	}
	bad := chance(f.CallbackBadSignatureRate)
	copies, delay := f.copies(), ms(f.CallbackDelayMS)
	if !s.cb.begin() {
		return
	}
	id := s.owe(o, bad)
	go func() {
		defer s.cb.end()
		// Nothing is told before it is on disk: the payment the callback
		// reports, and that the callback is owed.
		if err := s.durableUpTo(id); err != nil || !s.cb.wait(delay) {
			return
		}
		finished := true
		if !f.CallbackConcurrent || copies == 1 {
			for i := range copies {
				finished = s.deliver(o, bad, i+1) && finished
			}
		} else {
			var wg sync.WaitGroup
			var cut atomic.Bool
			start := make(chan struct{})
			for i := range copies {
				wg.Go(func() {
					<-start
					if !s.deliver(o, bad, i+1) {
						cut.Store(true)
					}
				})
			}
			close(start) // all copies leave together
			wg.Wait()
			finished = !cut.Load()
		}
		if finished {
			s.settled(id)
		}
	}()
}

// owe logs a callback about to be sent (with a data dir) and returns its id.
func (s *Sim) owe(o outgoing, bad bool) uint64 {
	if s.st.wal == nil {
		return 0
	}
	c := pendingCallback{Gateway: o.gateway, Ref: o.ref, Bad: bad}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.st.log(&record{Op: opCallback, Callback: &c})
	s.st.callbacks[id] = c
	return id
}

// settled logs that callback id was delivered, refused or given up. It is
// not waited for: lost in a crash, the callback is only sent once more.
func (s *Sim) settled(id uint64) {
	if id == 0 {
		return
	}
	s.mu.Lock()
	delete(s.st.callbacks, id)
	s.st.log(&record{Op: opCallbackDone, Done: id})
	s.mu.Unlock()
	s.poke()
}

// resendOwed sends again, once each, the callbacks an earlier run owed
// when it stopped (its faults are gone; a badly signed one stays bad).
func (s *Sim) resendOwed() {
	s.mu.Lock()
	type owed struct {
		id  uint64
		c   pendingCallback
		txn Transaction
	}
	var all []owed
	var gone []uint64
	for id, c := range s.st.callbacks {
		t, err := s.st.get(c.Gateway, c.Ref)
		if err != nil || t.Status == StatusPending {
			gone = append(gone, id)
			continue
		}
		txn := t.clone()
		txn.Refunds = nil // the callback says what it said when it was first sent: nothing changes after completion but refunds
		all = append(all, owed{id, c, txn})
	}
	s.mu.Unlock()
	for _, id := range gone {
		s.settled(id)
	}
	slices.SortFunc(all, func(a, b owed) int { return cmp.Compare(a.id, b.id) })
	for _, x := range all {
		o, ok := s.callbackOf(x.txn)
		if !ok || o.good.url == "" || !s.cb.begin() {
			s.settled(x.id)
			continue
		}
		go func() {
			defer s.cb.end()
			if s.deliver(o, x.c.Bad, 1) {
				s.settled(x.id)
			}
		}()
	}
}

// deliver sends one copy of o, retrying with backoff as the gateway does
// until it is acknowledged, refused, or Attempts tries have failed. It
// reports whether it got that far: false when the simulator closed first.
func (s *Sim) deliver(o outgoing, bad bool, copyNo int) bool {
	msg := o.good
	if bad {
		msg = o.bad
	}
	backoff := s.cfg.Callbacks.Backoff
	for attempt := 1; attempt <= s.cfg.Callbacks.Attempts; attempt++ {
		a := s.send(o, msg)
		a.Copy, a.Attempt, a.BadSignature = copyNo, attempt, bad
		if a.Outcome == CallbackRetry && s.cb.ctx.Err() != nil { // closing: the next run sends it
			s.cb.record(a)
			return false
		}
		if a.Outcome == CallbackRetry && attempt == s.cfg.Callbacks.Attempts {
			a.Outcome = CallbackGaveUp
			s.cfg.Logger.Warn("gatewaysim: callback given up", "gateway", o.gateway, "ref", o.ref,
				"attempts", attempt, "status", a.Status, "error", a.Error)
		}
		s.cb.record(a)
		if a.Outcome != CallbackRetry {
			return true
		}
		if !s.cb.wait(backoff) {
			return false
		}
		backoff = min(2*backoff, maxBackoff)
	}
	return true
}

// send makes one attempt under its own deadline.
func (s *Sim) send(o outgoing, msg callbackMsg) CallbackAttempt {
	a := CallbackAttempt{Gateway: o.gateway, Ref: o.ref, URL: stripQuery(msg.url), Outcome: CallbackRetry}
	select {
	case s.cb.sem <- struct{}{}:
		defer func() { <-s.cb.sem }()
	case <-s.cb.ctx.Done():
		a.Error, a.At = "simulator closed", s.cfg.Now()
		return a
	}
	a.At = s.cfg.Now()
	ctx, cancel := context.WithTimeout(s.cb.ctx, s.cfg.Callbacks.Timeout)
	defer cancel()
	var body io.Reader
	if msg.body != nil {
		body = bytes.NewReader(msg.body)
	}
	req, err := http.NewRequestWithContext(ctx, o.method, msg.url, body)
	if err != nil {
		a.Error, a.Outcome = err.Error(), CallbackRefused // a URL that cannot be requested never will be
		return a
	}
	if o.contentType != "" {
		req.Header.Set("Content-Type", o.contentType)
	}
	req.Header.Set("User-Agent", "gatewaysim/"+o.gateway)
	resp, err := s.cfg.Callbacks.Client.Do(req)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a.Status, a.Answer = resp.StatusCode, preview(answer)
	if err != nil {
		a.Error = fmt.Sprintf("read answer: %v", err)
		return a
	}
	switch o.verdict(resp.StatusCode, answer) {
	case delivered:
		a.Outcome = CallbackDelivered
	case refused:
		a.Outcome = CallbackRefused
	}
	return a
}

// CallbacksInFlight is the number of callbacks still being sent or waiting
// for a delay or a retry.
func (s *Sim) CallbacksInFlight() int64 { return s.cb.inflight.Load() }

// WaitCallbacks waits until no callback is in flight, or ctx ends.
func (s *Sim) WaitCallbacks(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.cb.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("gatewaysim: %d callbacks still in flight: %w", s.cb.inflight.Load(), ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// CallbackLog returns the last callback attempts (up to 10000), oldest
// first, of gateway and ref ("" for all).
func (s *Sim) CallbackLog(gateway, ref string) []CallbackAttempt { return s.cb.attempts(gateway, ref) }

func stripQuery(u string) string {
	base, _, _ := strings.Cut(u, "?")
	return base
}

func preview(b []byte) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), answerPreview)]), "")
	return strings.TrimSpace(s)
}

// withQuery adds q to raw's query string (keeping what raw already has).
func withQuery(raw, q string) string {
	if q == "" {
		return raw
	}
	base, frag, hasFrag := strings.Cut(raw, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	out := base + sep + q
	if hasFrag {
		out += "#" + frag
	}
	return out
}
