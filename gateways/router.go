package gateways

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// BreakerSettings configures every gateway's breaker. Zero fields take the
// defaults shown.
type BreakerSettings struct {
	// ConsecutiveFailures opens the breaker after this many technical
	// failures in a row (default 5).
	ConsecutiveFailures uint32
	// FailureRatio, when > 0, also opens the breaker once at least
	// MinRequests counted calls fell in the window and this fraction of them
	// were technical failures. Default 0: off.
	FailureRatio float64
	// MinRequests is the sample FailureRatio needs (default 20).
	MinRequests uint32
	// Window is the rolling window the counts cover (default 60s), in
	// buckets of BucketPeriod (default Window/6).
	Window       time.Duration
	BucketPeriod time.Duration
	// OpenTimeout is how long the breaker stays open before it lets probes
	// through half-open (default 30s).
	OpenTimeout time.Duration
	// HalfOpenRequests is how many probes run at once when half-open, and
	// how many must succeed in a row to close again (default 1).
	HalfOpenRequests uint32
}

func (s BreakerSettings) withDefaults() BreakerSettings {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = 5
	}
	if s.MinRequests == 0 {
		s.MinRequests = 20
	}
	if s.Window <= 0 {
		s.Window = time.Minute
	}
	if s.BucketPeriod <= 0 {
		s.BucketPeriod = s.Window / 6
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = 30 * time.Second
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = 1
	}
	return s
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
	OnStateChange func(gateway string, from, to gobreaker.State)
}

// Router holds the gateways, each behind its own breaker. It is safe for
// concurrent use.
type Router struct {
	settings BreakerSettings
	order    []*guarded
	byName   map[string]*guarded
	prefs    map[Method][]*guarded
}

// NewRouter wraps each gateway in a local breaker. Names must be unique.
func NewRouter(cfg RouterConfig, gws ...Gateway) (*Router, error) {
	s := cfg.Breaker.withDefaults()
	r := &Router{settings: s, byName: map[string]*guarded{}, prefs: map[Method][]*guarded{}}
	for _, gw := range gws {
		name := gw.Name()
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("gateways: router: gateway %q registered twice", name)
		}
		g := &guarded{Gateway: gw, cb: gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:          name,
			MaxRequests:   s.HalfOpenRequests,
			Interval:      s.Window,
			BucketPeriod:  s.BucketPeriod,
			Timeout:       s.OpenTimeout,
			ReadyToTrip:   s.readyToTrip,
			OnStateChange: cfg.OnStateChange,
			IsSuccessful:  breakerSuccess,
			IsExcluded:    breakerExcluded,
		})}
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

// Get returns the named gateway, behind its breaker, whatever the breaker's
// state (queries and refunds must go to the gateway an attempt used).
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
// breaker is closed, or half-open with a probe slot free. It returns an error
// wrapping ErrUnsupported when no gateway supports m, and ErrNoGateway when
// all that do are unavailable.
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
	switch g.cb.State() {
	case gobreaker.StateClosed:
		return true
	case gobreaker.StateHalfOpen:
		c := g.cb.Counts()
		return c.Requests-min(c.TotalExclusions, c.Requests) < r.settings.HalfOpenRequests
	default:
		return false
	}
}

// BreakerStat is one gateway's breaker as shown by GET /v1/gateways and metrics.
// Counts cover the current rolling window (closed) or the current half-open
// period; they reset on every state change.
type BreakerStat struct {
	Name                 string   `json:"name"`
	State                string   `json:"state"` // "closed", "half-open", "open"
	Methods              []Method `json:"methods"`
	Requests             uint32   `json:"requests"`
	TotalSuccesses       uint32   `json:"total_successes"`
	TotalFailures        uint32   `json:"total_failures"`
	TotalExclusions      uint32   `json:"total_exclusions"`
	ConsecutiveSuccesses uint32   `json:"consecutive_successes"`
	ConsecutiveFailures  uint32   `json:"consecutive_failures"`
}

// Stats returns every gateway's breaker, in registration order.
func (r *Router) Stats() []BreakerStat {
	out := make([]BreakerStat, 0, len(r.order))
	for _, g := range r.order {
		state := g.cb.State() // first: it advances open → half-open and resets counts
		c := g.cb.Counts()
		out = append(out, BreakerStat{
			Name: g.Name(), State: state.String(), Methods: g.Methods(),
			Requests: c.Requests, TotalSuccesses: c.TotalSuccesses, TotalFailures: c.TotalFailures,
			TotalExclusions: c.TotalExclusions, ConsecutiveSuccesses: c.ConsecutiveSuccesses,
			ConsecutiveFailures: c.ConsecutiveFailures,
		})
	}
	return out
}

// guarded runs a gateway's outgoing calls through its breaker.
type guarded struct {
	Gateway
	cb *gobreaker.CircuitBreaker[struct{}]
}

// through runs fn in cb and names the gateway in the breaker's own refusals.
func through[T any](g *guarded, fn func() (T, error)) (T, error) {
	var out T
	_, err := g.cb.Execute(func() (struct{}, error) {
		var err error
		out, err = fn()
		return struct{}{}, err
	})
	if errors.Is(err, ErrOpen) || errors.Is(err, ErrTooManyRequests) {
		return out, fmt.Errorf("gateways: %s: %w", g.Name(), err)
	}
	return out, err
}

func (g *guarded) Create(ctx context.Context, req CreateRequest) (CreateResult, error) {
	if oc, ok := g.Gateway.(OfflineCreator); ok && oc.CreatesOffline() {
		if g.cb.State() == gobreaker.StateOpen {
			return CreateResult{}, fmt.Errorf("gateways: %s: %w", g.Name(), ErrOpen)
		}
		return g.Gateway.Create(ctx, req)
	}
	return through(g, func() (CreateResult, error) { return g.Gateway.Create(ctx, req) })
}

func (g *guarded) Query(ctx context.Context, req QueryRequest) (Result, error) {
	return through(g, func() (Result, error) { return g.Gateway.Query(ctx, req) })
}

func (g *guarded) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	return through(g, func() (RefundResult, error) { return g.Gateway.Refund(ctx, req) })
}

func (g *guarded) QueryRefund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	rq, ok := g.Gateway.(RefundQuerier)
	if !ok {
		return RefundResult{}, fmt.Errorf("gateways: %s: query refund: %w", g.Name(), ErrUnsupported)
	}
	return through(g, func() (RefundResult, error) { return rq.QueryRefund(ctx, req) })
}
