package gateways

import (
	"context"
	"errors"
	"fmt"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Errors of the router. ErrOpen and ErrTooManyRequests are gobreaker's own
// values, so errors.Is(err, gobreaker.ErrOpenState) works on what the router returns.
var (
	// ErrNoGateway: every gateway that supports the method has an open breaker.
	ErrNoGateway = errors.New("gateways: no healthy gateway for method")
	// ErrUnknownGateway: no gateway registered under that name.
	ErrUnknownGateway = errors.New("gateways: unknown gateway")
	// ErrOpen: the gateway's breaker is open; the call was not made.
	ErrOpen = gobreaker.ErrOpenState
	// ErrTooManyRequests: the breaker is half-open and its probe quota is in use.
	ErrTooManyRequests = gobreaker.ErrTooManyRequests
)

// IsUnavailable reports whether a breaker refused the call (open, or
// half-open with its probe in flight): retry later, e.g. snooze the River job.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrOpen) || errors.Is(err, ErrTooManyRequests)
}

// Breaker names one of the two breakers every gateway has.
//
// Why two: a status query is background work, one per pending attempt, made
// by jobs in bursts; a refund is rare and slow. Neither says whether a new
// payment can start — for VNPAY and VietQR, whose Create makes no call at
// all, nothing does — and counting them against the gateway's availability
// let a burst of failed status queries for old attempts take card payments
// away for the whole open period. So each kind of call has its own breaker,
// and only BreakerCreate decides whether a gateway is offered.
type Breaker string

const (
	// BreakerCreate guards Create. Its state is the gateway's availability
	// for new payments: Pick, BreakerStat.State and the pay page follow it.
	// An offline Create (OfflineCreator) makes no call, so it neither passes
	// through it nor counts: such a gateway's create breaker stays closed.
	BreakerCreate Breaker = "create"
	// BreakerQuery guards the calls about existing payments: Query, Refund
	// and QueryRefund. While it is open they are refused (ErrOpen) and the
	// jobs making them wait (IsUnavailable).
	BreakerQuery Breaker = "query"
)

// Clock is the time source of the breakers' open periods and of the probes.
// RouterConfig.Clock nil is the wall clock; tests inject a fake one.
// It is the app's clock (internal/foundation/clock) plus timers; a separate value,
// because breaker windows are durations, not business decisions: a test that
// sets the business day ahead must not open or close breakers.
type Clock interface {
	clock.Clock
	// After is like time.After.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return clock.Real.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// BreakerSettings configures every gateway's breakers. They have no defaults
// of their own (internal/app/config has the service's, CIVICPAY_BREAKER_*);
// NewRouter refuses settings Check refuses.
type BreakerSettings struct {
	// ConsecutiveFailures opens the breaker after this many technical
	// failures in a row.
	ConsecutiveFailures uint32
	// FailureRatio, when > 0, also opens the breaker once at least
	// MinRequests counted calls fell in the window and this fraction of them
	// were technical failures. 0: off.
	FailureRatio float64
	// MinRequests is the sample FailureRatio needs.
	MinRequests uint32
	// Window is the rolling window the counts cover, in buckets of
	// BucketPeriod (0: Window/6).
	Window       time.Duration
	BucketPeriod time.Duration
	// OpenTimeout is the longest an open breaker stays open: then it lets
	// calls through half-open, whatever the probes found.
	OpenTimeout time.Duration
	// HalfOpenRequests is how many calls run at once when half-open, and
	// how many must succeed in a row to close again. A probe the gateway
	// answered counts as one.
	HalfOpenRequests uint32
	// ProbeInterval is how often a gateway with an open breaker is probed
	// (Prober): as soon as it answers, its open breakers close, without
	// waiting for OpenTimeout.
	ProbeInterval time.Duration
	// ProbeTimeout is one probe's own deadline. A probe that times out or
	// fails changes nothing: probes only shorten the open period, so a
	// gateway whose probe alone fails still gets its live calls tried after
	// OpenTimeout.
	ProbeTimeout time.Duration
}

// Check refuses settings that would open a breaker on every failure or
// never let it close: no failure count, a ratio outside [0, 1] or with no
// sample, and a window, open timeout, half-open allowance, probe interval or
// probe deadline that is not positive.
func (s BreakerSettings) Check() error {
	var bad []string
	if s.ConsecutiveFailures == 0 {
		bad = append(bad, "ConsecutiveFailures must be positive")
	}
	if s.FailureRatio < 0 || s.FailureRatio > 1 {
		bad = append(bad, "FailureRatio must be within 0 and 1")
	}
	if s.FailureRatio > 0 && s.MinRequests == 0 {
		bad = append(bad, "MinRequests must be positive with a FailureRatio")
	}
	if s.HalfOpenRequests == 0 {
		bad = append(bad, "HalfOpenRequests must be positive")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Window", s.Window}, {"OpenTimeout", s.OpenTimeout}, {"ProbeInterval", s.ProbeInterval}, {"ProbeTimeout", s.ProbeTimeout}} {
		if d.v <= 0 {
			bad = append(bad, d.name+" must be positive")
		}
	}
	if s.BucketPeriod < 0 {
		bad = append(bad, "BucketPeriod must not be negative")
	}
	if len(bad) > 0 {
		return fmt.Errorf("gateways: breaker: %s", strings.Join(bad, "; "))
	}
	return nil
}

// readyToTrip decides, on a technical failure in the closed state, whether to open.
func (s BreakerSettings) readyToTrip(c gobreaker.Counts) bool {
	if c.ConsecutiveFailures >= s.ConsecutiveFailures {
		return true
	}
	counted := c.TotalSuccesses + c.TotalFailures
	return s.FailureRatio > 0 && counted >= s.MinRequests &&
		float64(c.TotalFailures) >= s.FailureRatio*float64(counted)
}

// breakerSuccess: everything but a technical failure shows the gateway answering.
func breakerSuccess(err error) bool { return !IsTechnical(err) }

// breakerExcluded: errors that say nothing about the gateway's health — the
// caller gave up, or the call was never made.
func breakerExcluded(err error) bool {
	if err == nil || IsTechnical(err) {
		return false
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrUnsupported) || errors.Is(err, ErrInvalidRequest)
}

// answered: the gateway got the call and answered it, whatever it said.
func answered(err error) bool { return breakerSuccess(err) && !breakerExcluded(err) }

// RouterConfig configures a Router.
type RouterConfig struct {
	Breaker BreakerSettings
	// Preferences orders gateway names per method. A method without an entry
	// uses the gateways supporting it in registration order. Every name must
	// be registered and support the method.
	Preferences map[Method][]string
	// OnStateChange, if set, is told of every breaker transition (metrics,
	// logs). It runs under the breaker's lock: it must be quick and must not
	// call back into the Router.
	OnStateChange func(gateway string, breaker Breaker, from, to gobreaker.State)
	// Clock is the time source (nil: the wall clock).
	Clock Clock
}

// Router holds the gateways, each behind its breakers. It is safe for
// concurrent use. Close stops its probes.
type Router struct {
	settings BreakerSettings
	order    []*guarded
	byName   map[string]*guarded
	prefs    map[Method][]*guarded
	ctx      context.Context // cancelled by Close: ends probes
	close    context.CancelFunc
}

// NewRouter wraps each gateway in its breakers. Names must be unique.
func NewRouter(cfg RouterConfig, gws ...Gateway) (*Router, error) {
	s := cfg.Breaker
	if err := s.Check(); err != nil {
		return nil, err
	}
	if s.BucketPeriod == 0 {
		s.BucketPeriod = s.Window / 6
	}
	clock := cfg.Clock
	if clock == nil {
		clock = wallClock{}
	}
	r := &Router{settings: s, byName: map[string]*guarded{}, prefs: map[Method][]*guarded{}}
	r.ctx, r.close = context.WithCancel(context.Background())
	for _, gw := range gws {
		name := gw.Name()
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("gateways: router: gateway %q registered twice", name)
		}
		g := &guarded{Gateway: gw, router: r, clock: clock}
		if p, ok := gw.(Prober); ok {
			g.probe = p.Probe
		}
		g.create = newBreaker(g, BreakerCreate, s, clock, cfg.OnStateChange)
		g.query = newBreaker(g, BreakerQuery, s, clock, cfg.OnStateChange)
		r.order = append(r.order, g)
		r.byName[name] = g
	}
	for m, names := range cfg.Preferences {
		for _, name := range names {
			g, ok := r.byName[name]
			if !ok {
				return nil, fmt.Errorf("gateways: router: preference for %s: %q: %w", m, name, ErrUnknownGateway)
			}
			if !slices.Contains(g.Methods(), m) {
				return nil, fmt.Errorf("gateways: router: preference for %s: %q does not support it", m, name)
			}
			r.prefs[m] = append(r.prefs[m], g)
		}
	}
	return r, nil
}

// Close stops the probes. The gateways stay usable; an open breaker then
// waits for OpenTimeout.
func (r *Router) Close() { r.close() }

// Get returns the named gateway, behind its breakers, whatever their state
// (queries and refunds must go to the gateway an attempt used).
func (r *Router) Get(name string) (Gateway, error) {
	g, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("gateways: %q: %w", name, ErrUnknownGateway)
	}
	return g, nil
}

// Pick returns the gateway to use for a new attempt with method m: preferred
// if it is registered, supports m and is available, otherwise the first
// available gateway in m's preference order. A gateway is available when its
// create breaker is closed, or half-open with a probe slot free; its query
// breaker does not matter. It returns an error wrapping ErrUnsupported when
// no gateway supports m, and ErrNoGateway when all that do are unavailable.
func (r *Router) Pick(m Method, preferred string) (Gateway, error) {
	candidates := r.candidates(m)
	if len(candidates) == 0 {
		return nil, fmt.Errorf("gateways: method %q: %w", m, ErrUnsupported)
	}
	if g, ok := r.byName[preferred]; ok && slices.Contains(g.Methods(), m) && r.available(g) {
		return g, nil
	}
	for _, g := range candidates {
		if r.available(g) {
			return g, nil
		}
	}
	return nil, fmt.Errorf("gateways: method %q: %w", m, ErrNoGateway)
}

func (r *Router) candidates(m Method) []*guarded {
	if p, ok := r.prefs[m]; ok {
		return p
	}
	var out []*guarded
	for _, g := range r.order {
		if slices.Contains(g.Methods(), m) {
			out = append(out, g)
		}
	}
	return out
}

func (r *Router) available(g *guarded) bool {
	switch g.create.state() {
	case gobreaker.StateClosed:
		return true
	case gobreaker.StateHalfOpen:
		c := g.create.cb.Counts()
		return c.Requests-min(c.TotalExclusions, c.Requests) < r.settings.HalfOpenRequests
	default:
		return false
	}
}

// BreakerStat is one gateway's breakers as shown by GET /v1/gateways and
// metrics: State and the counts are its create breaker's (whether it is
// offered for new payments), Query its query breaker's. Counts cover the
// current rolling window (closed) or the current half-open period; they
// reset on every state change.
type BreakerStat struct {
	Name                 string        `json:"name"`
	State                string        `json:"state"` // "closed", "half-open", "open"
	Methods              []Method      `json:"methods"`
	Requests             uint32        `json:"requests"`
	TotalSuccesses       uint32        `json:"total_successes"`
	TotalFailures        uint32        `json:"total_failures"`
	TotalExclusions      uint32        `json:"total_exclusions"`
	ConsecutiveSuccesses uint32        `json:"consecutive_successes"`
	ConsecutiveFailures  uint32        `json:"consecutive_failures"`
	Query                BreakerCounts `json:"query"`
}

// BreakerCounts is one breaker's state and counts.
type BreakerCounts struct {
	State                string `json:"state"` // "closed", "half-open", "open"
	Requests             uint32 `json:"requests"`
	TotalSuccesses       uint32 `json:"total_successes"`
	TotalFailures        uint32 `json:"total_failures"`
	TotalExclusions      uint32 `json:"total_exclusions"`
	ConsecutiveSuccesses uint32 `json:"consecutive_successes"`
	ConsecutiveFailures  uint32 `json:"consecutive_failures"`
}

// Stats returns every gateway's breakers, in registration order.
func (r *Router) Stats() []BreakerStat {
	out := make([]BreakerStat, 0, len(r.order))
	for _, g := range r.order {
		c := g.create.stat()
		out = append(out, BreakerStat{
			Name: g.Name(), State: c.State, Methods: g.Methods(),
			Requests: c.Requests, TotalSuccesses: c.TotalSuccesses, TotalFailures: c.TotalFailures,
			TotalExclusions: c.TotalExclusions, ConsecutiveSuccesses: c.ConsecutiveSuccesses,
			ConsecutiveFailures: c.ConsecutiveFailures, Query: g.query.stat(),
		})
	}
	return out
}

// breaker is a gobreaker breaker whose open period runs on a Clock and ends
// early when a probe finds the gateway answering.
//
// gobreaker reads the wall clock itself and has no way to close a breaker
// from outside, so the open state is kept here: gobreaker's own open timeout
// is a nanosecond, and while open is set this type refuses every call
// itself; underneath, gobreaker waits half-open. When the open period ends
// (OpenTimeout on the Clock) the calls go through to gobreaker's half-open
// state as usual; when a probe got an answer, that answer is recorded as
// the half-open trial's success, which closes the breaker (with
// HalfOpenRequests 1). gobreaker still does the counting, the rolling
// window, tripping and the half-open quota.
type breaker struct {
	g        *guarded
	kind     Breaker
	cb       *gobreaker.CircuitBreaker[struct{}]
	clock    Clock
	openFor  time.Duration
	onChange func(gateway string, breaker Breaker, from, to gobreaker.State)

	mu       sync.Mutex
	open     bool      // refusing calls; gobreaker underneath is half-open
	openedAt time.Time // by clock
}

func newBreaker(g *guarded, kind Breaker, s BreakerSettings, clock Clock, onChange func(string, Breaker, gobreaker.State, gobreaker.State)) *breaker {
	b := &breaker{g: g, kind: kind, clock: clock, openFor: s.OpenTimeout, onChange: onChange}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          g.Name() + "/" + string(kind),
		MaxRequests:   s.HalfOpenRequests,
		Interval:      s.Window,
		BucketPeriod:  s.BucketPeriod,
		Timeout:       time.Nanosecond, // the open period is b's (see breaker)
		ReadyToTrip:   s.readyToTrip,
		OnStateChange: b.transition,
		IsSuccessful:  breakerSuccess,
		IsExcluded:    breakerExcluded,
	})
	return b
}

func (b *breaker) notify(from, to gobreaker.State) {
	if b.onChange != nil {
		b.onChange(b.g.Name(), b.kind, from, to)
	}
}

// transition is gobreaker's OnStateChange, under gobreaker's lock (b never
// calls gobreaker holding b.mu). gobreaker's open → half-open, a nanosecond
// after it opened, is hidden behind b.open.
func (b *breaker) transition(_ string, from, to gobreaker.State) {
	switch to {
	case gobreaker.StateOpen:
		b.mu.Lock()
		b.open, b.openedAt = true, b.clock.Now()
		b.notify(from, to)
		b.mu.Unlock()
		b.g.startProbing()
	case gobreaker.StateClosed:
		b.mu.Lock()
		if b.open { // a probe's answer closed it straight from open
			b.open, from = false, gobreaker.StateOpen
		}
		b.notify(from, to)
		b.mu.Unlock()
	}
}

// gated reports whether b refuses calls, ending the open period when
// OpenTimeout has passed. It does not call gobreaker.
func (b *breaker) gated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open && !b.clock.Now().Before(b.openedAt.Add(b.openFor)) {
		b.open = false
		b.notify(gobreaker.StateOpen, gobreaker.StateHalfOpen)
	}
	return b.open
}

func (b *breaker) state() gobreaker.State {
	if b.gated() {
		return gobreaker.StateOpen
	}
	return b.cb.State()
}

func (b *breaker) stat() BreakerCounts {
	state := b.state() // first: it may end the open period, which resets the counts
	c := b.cb.Counts()
	if state == gobreaker.StateOpen {
		c = gobreaker.Counts{} // gobreaker's are its hidden half-open period's
	}
	return BreakerCounts{State: state.String(), Requests: c.Requests, TotalSuccesses: c.TotalSuccesses,
		TotalFailures: c.TotalFailures, TotalExclusions: c.TotalExclusions,
		ConsecutiveSuccesses: c.ConsecutiveSuccesses, ConsecutiveFailures: c.ConsecutiveFailures}
}

// execute runs fn through the breaker.
func (b *breaker) execute(fn func() error) error {
	if b.gated() {
		return ErrOpen
	}
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// answered records that a probe found the gateway answering: if b is open,
// the answer is its half-open trial's success, which closes it (or, with
// HalfOpenRequests above 1, leaves it half-open for the live calls to
// finish).
func (b *breaker) answered() {
	if !b.gated() {
		return
	}
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, nil })
	if err == nil && b.cb.State() == gobreaker.StateClosed {
		return // transition has reported open → closed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open { // still half-open underneath (or a live call holds the trial)
		b.open = false
		b.notify(gobreaker.StateOpen, gobreaker.StateHalfOpen)
	}
}

// guarded runs a gateway's outgoing calls through its breakers and probes
// it while one of them is open.
type guarded struct {
	Gateway
	router        *Router
	clock         Clock
	create, query *breaker
	probe         func(ctx context.Context) error // nil: the adapter is no Prober

	mu      sync.Mutex
	probing bool // a probe loop runs
}

// startProbing starts the probe loop unless it runs or there is no probe.
func (g *guarded) startProbing() {
	if g.probe == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.probing || g.router.ctx.Err() != nil {
		return
	}
	g.probing = true
	go g.probeLoop()
}

// probeLoop probes the gateway every ProbeInterval while one of its breakers
// is open, one probe at a time; an answer closes every open breaker.
func (g *guarded) probeLoop() {
	s := g.router.settings
	for {
		select {
		case <-g.clock.After(s.ProbeInterval):
		case <-g.router.ctx.Done():
			g.mu.Lock()
			g.probing = false
			g.mu.Unlock()
			return
		}
		g.mu.Lock()
		if !g.create.gated() && !g.query.gated() {
			g.probing = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		ctx, cancel := context.WithTimeout(g.router.ctx, s.ProbeTimeout)
		err := g.probe(ctx)
		cancel()
		if answered(err) {
			g.create.answered()
			g.query.answered()
		}
	}
}

// through runs fn in b and names the gateway in the breaker's own refusals.
func through[T any](g *guarded, b *breaker, fn func() (T, error)) (T, error) {
	var out T
	err := b.execute(func() error {
		var err error
		out, err = fn()
		return err
	})
	if errors.Is(err, ErrOpen) || errors.Is(err, ErrTooManyRequests) {
		return out, fmt.Errorf("gateways: %s: %s breaker: %w", g.Name(), b.kind, err)
	}
	return out, err
}

func (g *guarded) Create(ctx context.Context, req CreateRequest) (CreateResult, error) {
	if oc, ok := g.Gateway.(OfflineCreator); ok && oc.CreatesOffline() {
		return g.Gateway.Create(ctx, req) // no call: nothing to guard, nothing to count
	}
	return through(g, g.create, func() (CreateResult, error) { return g.Gateway.Create(ctx, req) })
}

func (g *guarded) Query(ctx context.Context, req QueryRequest) (Result, error) {
	return through(g, g.query, func() (Result, error) { return g.Gateway.Query(ctx, req) })
}

func (g *guarded) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	return through(g, g.query, func() (RefundResult, error) { return g.Gateway.Refund(ctx, req) })
}

func (g *guarded) QueryRefund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	rq, ok := g.Gateway.(RefundQuerier)
	if !ok {
		return RefundResult{}, fmt.Errorf("gateways: %s: query refund: %w", g.Name(), ErrUnsupported)
	}
	return through(g, g.query, func() (RefundResult, error) { return rq.QueryRefund(ctx, req) })
}
