package auth_test

import (
	"context"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// queryCounter counts the statements a pool sends.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Failed authentication costs the database nothing the second time, and a
// key that is not shaped like one costs it nothing at all.
func TestFailedKeysCostNoQuery(t *testing.T) {
	t.Parallel()
	_, url := pgtest.NewWithURL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	counter := &queryCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := auth.NewStore(pool)
	ctx := audit.System(context.Background(), "test")
	_, valid, err := store.Create(ctx, auth.RoleTreasury, "", "valid")
	if err != nil {
		t.Fatal(err)
	}
	revokedKey, revoked, err := store.Create(ctx, auth.RoleTreasury, "", "revoked")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Revoke(ctx, revokedKey.Prefix); err != nil {
		t.Fatal(err)
	}
	prefix := valid[4:16]

	// ttl 0: verified keys are not cached, so only failures are.
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error { return c.SendStatus(401) }})
	app.Get("/", auth.NewAuthenticator(store, 0).Middleware(), func(c *fiber.Ctx) error { return c.SendString("ok") })
	call := func(key string) int {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	for _, tc := range []struct {
		name    string
		key     string
		status  int
		queries int64 // for two requests with the key
	}{
		{"malformed: prefix not hex", "cpk_zzzzzzzzzzzz_" + strings.Repeat("A", 32), 401, 0},
		{"malformed: secret too short", "cpk_0123456789ab_" + strings.Repeat("A", 20), 401, 0},
		{"malformed: secret not base64url", "cpk_0123456789ab_" + strings.Repeat("*", 32), 401, 0},
		{"malformed: no cpk_", "Basic " + strings.Repeat("A", 40), 401, 0},
		{"unknown key", "cpk_0123456789ab_" + strings.Repeat("A", 32), 401, 1},
		{"revoked key", revoked, 401, 1},
		{"known prefix, wrong secret", "cpk_" + prefix + "_" + strings.Repeat("B", 32), 401, 1},
		// Two lookups, and the first request's record of the key's use
		// (TestKeyUseIsRecordedOncePerMinute).
		{"valid key (not cached: ttl 0)", valid, 200, 3},
	} {
		before := counter.n.Load()
		for i := range 2 {
			if s := call(tc.key); s != tc.status {
				t.Fatalf("%s, request %d: %d, want %d", tc.name, i+1, s, tc.status)
			}
		}
		if got := counter.n.Load() - before; got != tc.queries {
			t.Errorf("%s: %d queries for two requests, want %d", tc.name, got, tc.queries)
		}
	}
	if s := call(valid); s != http.StatusOK {
		t.Fatalf("the valid key after the failures: %d", s)
	}
}

// A key's use is recorded when it authenticates, but not on every request:
// once per auth.TouchEvery per process, and the statement skips the write
// when any process recorded it within TouchEvery. Its creator is the audit
// actor that created it; an agency's keys are its agency-role keys only.
func TestKeyUseIsRecordedOncePerMinute(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO agencies (code, name, treasury_account) VALUES ('AG-A', 'A', 'T-A'), ('AG-B', 'B', 'T-B')`); err != nil {
		t.Fatal(err)
	}
	store := auth.NewStore(pool)
	made := audit.WithActor(ctx, audit.Actor{ID: "user:test-admin", Role: "staff:admin"})
	k, secret, err := store.Create(made, auth.RoleAgency, "AG-A", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Create(made, auth.RoleAgency, "AG-B", "b"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Create(made, auth.RolePortal, "", "portal"); err != nil {
		t.Fatal(err)
	}
	lastUsed := func() *time.Time {
		t.Helper()
		var at *time.Time
		if err := pool.QueryRow(ctx, `SELECT last_used_at FROM api_keys WHERE id = $1`, k.ID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	if at := lastUsed(); at != nil {
		t.Fatalf("a new key was last used at %v", at)
	}
	app := fiber.New()
	app.Get("/", auth.NewAuthenticator(store, 0).Middleware(), func(c *fiber.Ctx) error { return c.SendString("ok") })
	call := func() {
		t.Helper()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := app.Test(req)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("request: %v %v", res, err)
		}
	}
	call()
	first := lastUsed()
	if first == nil {
		t.Fatal("the key's use was not recorded")
	}
	call()
	if again := lastUsed(); again == nil || !again.Equal(*first) {
		t.Fatalf("the second request within a minute wrote the key's use again: %v then %v", first, again)
	}
	// Another process (another store) within the minute: no write either.
	if wrote, err := auth.NewStore(pool).Touch(ctx, k.ID); err != nil || wrote {
		t.Fatalf("Touch within a minute of the last: wrote %v, %v", wrote, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() - interval '61 seconds' WHERE id = $1`, k.ID); err != nil {
		t.Fatal(err)
	}
	if wrote, err := store.Touch(ctx, k.ID); err != nil || !wrote {
		t.Fatalf("Touch a minute after the last: wrote %v, %v", wrote, err)
	}

	keys, err := store.AgencyKeys(ctx, "AG-A")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != k.ID || keys[0].CreatedBy != "user:test-admin" || keys[0].LastUsedAt == nil {
		t.Fatalf("AG-A's keys: %+v; want only %s, created by user:test-admin, with its last use", keys, k.ID)
	}
	all, err := store.List(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("List: %d keys, %v; want 3", len(all), err)
	}
}
