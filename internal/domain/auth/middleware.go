package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

const principalKey = "auth.principal"

// Authenticator authenticates requests, caching verified keys briefly so a busy
// portal does not pay a database round trip per request. A revoked key stops
// working within CacheTTL.
//
// Failures cost no query either: a key not shaped like one is refused before
// any lookup, and a well-formed key that failed (unknown, revoked, wrong
// secret) is remembered as failed for the failure TTL (DefaultFailureTTL).
type Authenticator struct {
	store    *Store
	cacheTTL time.Duration
	failTTL  time.Duration
	mu       sync.Mutex
	cache    map[string]cached
	failed   map[string]time.Time    // key → until when it is refused without a query
	touched  map[uuid.UUID]time.Time // key id → when this process last recorded its use
}

// DefaultFailureTTL is how long a failed key is remembered unless
// CacheFailures says otherwise.
const DefaultFailureTTL = 5 * time.Second

// maxCached bounds each cache; a full one is emptied and refills.
const maxCached = 10000

type cached struct {
	p       Principal
	expires time.Time
}

// NewAuthenticator returns an authenticator; ttl 0 disables the cache.
func NewAuthenticator(store *Store, ttl time.Duration) *Authenticator {
	return &Authenticator{store: store, cacheTTL: ttl, failTTL: DefaultFailureTTL, cache: map[string]cached{},
		failed: map[string]time.Time{}, touched: map[uuid.UUID]time.Time{}}
}

// CacheFailures sets how long a failed key is refused without a query (0:
// every attempt is looked up) and returns a.
func (a *Authenticator) CacheFailures(ttl time.Duration) *Authenticator {
	a.failTTL = ttl
	return a
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
			ID: "key:" + p.Prefix, Role: p.RoleName(), IP: strings.Clone(c.IP()), RequestID: rid,
			Route: strings.Clone(c.Method()) + " " + strings.Clone(c.Path()),
		}))
		return c.Next()
	}
}

func (a *Authenticator) authenticate(c *fiber.Ctx, key string) (Principal, error) {
	if _, _, ok := split(key); !ok {
		return Principal{}, ErrUnauthorized
	}
	now := time.Now()
	a.mu.Lock()
	e, ok := a.cache[key]
	until, failed := a.failed[key]
	a.mu.Unlock()
	if a.cacheTTL > 0 && ok && now.Before(e.expires) {
		a.touch(c, e.p.KeyID, now)
		return e.p, nil
	}
	if failed && now.Before(until) {
		return Principal{}, ErrUnauthorized
	}
	p, err := a.store.Authenticate(c.UserContext(), key)
	if errors.Is(err, ErrUnauthorized) && a.failTTL > 0 {
		a.mu.Lock()
		if len(a.failed) >= maxCached {
			a.failed = map[string]time.Time{}
		}
		a.failed[strings.Clone(key)] = now.Add(a.failTTL)
		a.mu.Unlock()
	}
	if err != nil {
		return Principal{}, err
	}
	if a.cacheTTL > 0 {
		a.mu.Lock()
		if len(a.cache) >= maxCached { // bound memory: drop everything, it refills
			a.cache = map[string]cached{}
		}
		until := now.Add(a.cacheTTL)
		if p.ExpiresAt != nil && p.ExpiresAt.Before(until) { // an expiring key is not served past its expiry
			until = *p.ExpiresAt
		}
		a.cache[strings.Clone(key)] = cached{p: p, expires: until}
		a.mu.Unlock()
	}
	a.touch(c, p.KeyID, now)
	return p, nil
}

// touchTimeout bounds the write of a key's last use: a slow database delays
// one request a minute per key by at most this.
const touchTimeout = time.Second

// touch records that key id was used, at most once per TouchEvery in this
// process (the statement skips the write if another process made it within
// TouchEvery). A failure is logged, never the request's: the use is
// recorded again after TouchEvery.
func (a *Authenticator) touch(c *fiber.Ctx, id uuid.UUID, now time.Time) {
	a.mu.Lock()
	last, seen := a.touched[id]
	due := !seen || now.Sub(last) >= TouchEvery
	if due {
		if len(a.touched) >= maxCached {
			a.touched = map[uuid.UUID]time.Time{}
		}
		a.touched[id] = now
	}
	a.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), touchTimeout)
	defer cancel()
	if _, err := a.store.Touch(ctx, id); err != nil {
		slog.WarnContext(ctx, "auth: could not record an API key's use", "key_id", id, "err", err)
	}
}

// FromCtx returns the request's principal (zero if unauthenticated).
func FromCtx(c *fiber.Ctx) Principal {
	p, _ := c.Locals(principalKey).(Principal)
	return p
}

// Require lets through only a principal that holds one of roles, as its role
// or as an extra one (an admin key also given treasury). No role passes
// implicitly: admin manages keys and the catalogue and reads what the routes
// that name it allow, and moves no money unless its key is also treasury.
func Require(roles ...Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := FromCtx(c)
		for _, r := range roles {
			if p.Has(r) {
				return c.Next()
			}
		}
		return problem.New(http.StatusForbidden, "Forbidden", "the "+p.RoleName()+" role may not do this")
	}
}

// Readers are the roles that read the back office (treasury's data): treasury
// and admin, which may read everything but changes only keys and the catalogue.
var Readers = []Role{RoleTreasury, RoleAdmin}

// HTTPErrors maps this package's errors to HTTP.
var HTTPErrors = []problem.Mapping{
	{Err: ErrUnauthorized, Status: http.StatusUnauthorized, Title: "Unauthorized"},
	{Err: ErrInvalidRole, Status: http.StatusUnprocessableEntity, Title: "Invalid role"},
	{Err: ErrAgencyRequired, Status: http.StatusUnprocessableEntity, Title: "Invalid agency"},
	{Err: ErrExtraRole, Status: http.StatusUnprocessableEntity, Title: "Invalid extra role"},
	{Err: ErrUnknownAgency, Status: http.StatusUnprocessableEntity, Title: "Unknown agency"},
	{Err: ErrKeyNotFound, Status: http.StatusNotFound, Title: "Not found"},
}
