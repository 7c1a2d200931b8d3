package auth_test

import (
	"context"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

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
		{"valid key (not cached: ttl 0)", valid, 200, 2},
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
