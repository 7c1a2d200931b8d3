// Package ratelimit builds civicpay's request limits on Fiber's own limiter
// middleware (sliding window), with a bounded in-memory store and a 429
// problem+json answer carrying Retry-After.
//
// Limits live in each process's memory: with several `serve` processes behind
// a load balancer each enforces its own share (a client may get up to the
// limit times the number of processes).
package ratelimit

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// DefaultCapacity bounds how many keys one limit remembers.
const DefaultCapacity = 100_000

// Rule is one limit: at most Max requests per Window for each key.
type Rule struct {
	// Name says what is limited, in the 429's detail ("per client IP").
	Name string
	// Max requests per Window; 0 or less turns the limit off.
	Max int
	// Window defaults to a minute.
	Window time.Duration
	// Key is what requests are counted by; a request whose key is "" is not
	// counted (nor limited).
	Key func(c *fiber.Ctx) string
	// OnlyFailures counts only requests answered with a status of 400 or more.
	// The limiter reads the status after the rest of the chain ran, so the
	// errors below it must already be written (see server.resolveErrors).
	OnlyFailures bool
	// Capacity bounds the keys remembered (default DefaultCapacity); when it
	// is full the expired ones are dropped, then arbitrary ones.
	Capacity int
}

// New returns the middleware enforcing r, or one that only calls the next
// handler when r is off.
func New(r Rule) fiber.Handler {
	if r.Max <= 0 || r.Key == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	if r.Window <= 0 {
		r.Window = time.Minute
	}
	if r.Capacity <= 0 {
		r.Capacity = DefaultCapacity
	}
	detail := fmt.Sprintf("at most %d requests per %s %s; retry after the time in Retry-After", r.Max, window(r.Window), r.Name)
	return limiter.New(limiter.Config{
		Next:                   func(c *fiber.Ctx) bool { return r.Key(c) == "" },
		Max:                    r.Max,
		Expiration:             r.Window,
		KeyGenerator:           r.Key,
		SkipSuccessfulRequests: r.OnlyFailures,
		Storage:                NewStore(r.Capacity),
		LimiterMiddleware:      limiter.SlidingWindow{},
		LimitReached: func(c *fiber.Ctx) error {
			// The limiter has set Retry-After (seconds until its window turns).
			return problem.New(http.StatusTooManyRequests, "Too many requests", detail)
		},
	})
}

func window(d time.Duration) string {
	if d == time.Minute {
		return "minute"
	}
	return d.String()
}

// ClientIP is the request's client address as a limit key: c.IP() (the TCP
// peer, or what a trusted proxy says: server.Options), with an IPv6 address
// cut to its /64, since one host usually holds a whole /64.
func ClientIP(c *fiber.Ctx) string {
	s := c.IP()
	ip := net.ParseIP(s)
	switch {
	case ip == nil:
		return "?" + s // never empty: an unparsable address is still limited
	case ip.To4() != nil:
		return ip.String()
	default:
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
}

// Store is a fiber.Storage in memory holding at most a fixed number of keys.
// It runs no goroutine: expired entries are dropped when it is full.
type Store struct {
	mu    sync.Mutex
	max   int
	data  map[string]entry
	swept time.Time // last sweep for expired entries (at most one a second)
}

type entry struct {
	val []byte
	exp time.Time // zero: never
}

// NewStore returns a store of at most capacity keys.
func NewStore(capacity int) *Store {
	return &Store{max: max(capacity, 1), data: map[string]entry{}}
}

// Get implements fiber.Storage.
func (s *Store) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.data[key]
	if !ok {
		return nil, nil
	}
	if !e.exp.IsZero() && !time.Now().Before(e.exp) {
		delete(s.data, key)
		return nil, nil
	}
	return append([]byte(nil), e.val...), nil
}

// Set implements fiber.Storage.
func (s *Store) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	e := entry{val: append([]byte(nil), val...)}
	now := time.Now()
	if exp > 0 {
		e.exp = now.Add(exp)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data[key]; !ok && len(s.data) >= s.max {
		s.evict(now)
	}
	s.data[string([]byte(key))] = e // copy: Fiber's strings may point into reused buffers
	return nil
}

// evict drops the expired entries (sweeping at most once a second, so a flood
// of new keys does not scan the map each time), or else one arbitrary entry:
// the count of some client restarts, failing open rather than closed.
func (s *Store) evict(now time.Time) {
	if now.Sub(s.swept) >= time.Second {
		s.swept = now
		n := len(s.data)
		for k, e := range s.data {
			if !e.exp.IsZero() && !now.Before(e.exp) {
				delete(s.data, k)
			}
		}
		if len(s.data) < n {
			return
		}
	}
	for k := range s.data {
		delete(s.data, k)
		return
	}
}

// Len is how many keys the store holds.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.data)
}

// Delete implements fiber.Storage.
func (s *Store) Delete(key string) error {
	s.mu.Lock()
	delete(s.data, key)
	s.mu.Unlock()
	return nil
}

// Reset implements fiber.Storage.
func (s *Store) Reset() error {
	s.mu.Lock()
	s.data = map[string]entry{}
	s.mu.Unlock()
	return nil
}

// Close implements fiber.Storage.
func (s *Store) Close() error { return nil }
