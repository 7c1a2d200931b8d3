package auth

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/audit"
	"github.com/civicpay/civicpay/internal/problem"
)

const principalKey = "auth.principal"

// Authenticator authenticates requests, caching verified keys briefly so a busy
// portal does not pay a database round trip per request. A revoked key stops
// working within CacheTTL.
type Authenticator struct {
	store    *Store
	cacheTTL time.Duration
	mu       sync.Mutex
	cache    map[string]cached
}

type cached struct {
	p       Principal
	expires time.Time
}

// NewAuthenticator returns an authenticator; ttl 0 disables the cache.
func NewAuthenticator(store *Store, ttl time.Duration) *Authenticator {
	return &Authenticator{store: store, cacheTTL: ttl, cache: map[string]cached{}}
}

// Middleware requires a valid key in `Authorization: Bearer <key>` and stores the
// principal for the handlers.
func (a *Authenticator) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := c.Get(fiber.HeaderAuthorization)
		key, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || key == "" {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="civicpay"`)
			return problem.New(http.StatusUnauthorized, "Unauthorized", "send an API key as `Authorization: Bearer cpk_…`")
		}
		p, err := a.authenticate(c, strings.TrimSpace(key))
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="civicpay", error="invalid_token"`)
			return err
		}
		c.Locals(principalKey, p)
		// Stores that change something record it in the audit log with the
		// caller taken from the request context (strings copied: Fiber reuses
		// its buffers once the request ends).
		rid, _ := c.Locals("request_id").(string)
		c.SetUserContext(audit.WithActor(c.UserContext(), audit.Actor{
			ID: "key:" + p.Prefix, Role: string(p.Role), IP: strings.Clone(c.IP()), RequestID: rid,
			Route: strings.Clone(c.Method()) + " " + strings.Clone(c.Path()),
		}))
		return c.Next()
	}
}

func (a *Authenticator) authenticate(c *fiber.Ctx, key string) (Principal, error) {
	now := time.Now()
	if a.cacheTTL > 0 {
		a.mu.Lock()
		e, ok := a.cache[key]
		a.mu.Unlock()
		if ok && now.Before(e.expires) {
			return e.p, nil
		}
	}
	p, err := a.store.Authenticate(c.UserContext(), key)
	if err != nil {
		return Principal{}, err
	}
	if a.cacheTTL > 0 {
		a.mu.Lock()
		if len(a.cache) > 10000 { // bound memory: drop everything, it refills
			a.cache = map[string]cached{}
		}
		until := now.Add(a.cacheTTL)
		if p.ExpiresAt != nil && p.ExpiresAt.Before(until) { // an expiring key is not served past its expiry
			until = *p.ExpiresAt
		}
		a.cache[strings.Clone(key)] = cached{p: p, expires: until}
		a.mu.Unlock()
	}
	return p, nil
}

// FromCtx returns the request's principal (zero if unauthenticated).
func FromCtx(c *fiber.Ctx) Principal {
	p, _ := c.Locals(principalKey).(Principal)
	return p
}

// Require lets only the given roles through (admin is always allowed).
func Require(roles ...Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := FromCtx(c)
		if p.Role == RoleAdmin {
			return c.Next()
		}
		for _, r := range roles {
			if p.Role == r {
				return c.Next()
			}
		}
		return problem.New(http.StatusForbidden, "Forbidden", "the "+string(p.Role)+" role may not do this")
	}
}

// HTTPErrors maps this package's errors to HTTP.
var HTTPErrors = []problem.Mapping{
	{Err: ErrUnauthorized, Status: http.StatusUnauthorized, Title: "Unauthorized"},
	{Err: ErrInvalidRole, Status: http.StatusUnprocessableEntity, Title: "Invalid role"},
	{Err: ErrAgencyRequired, Status: http.StatusUnprocessableEntity, Title: "Invalid agency"},
	{Err: ErrUnknownAgency, Status: http.StatusUnprocessableEntity, Title: "Unknown agency"},
	{Err: ErrKeyNotFound, Status: http.StatusNotFound, Title: "Not found"},
}
