package problem_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/civicpay/civicpay/internal/foundation/problem"
)

var errInFlight = errors.New("a request with this Idempotency-Key is still being processed")

// A passing condition of the database is a 503 with Retry-After, never a
// 500; its type says whether sending the request again is safe. A domain
// error mapped with RetryAfter (409 request-in-progress) carries it too.
func TestHandlerStatusAndRetryAfter(t *testing.T) {
	t.Parallel()
	terminated := fmt.Errorf("get order: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01",
		Message: "terminating connection due to administrator command"})
	tests := []struct {
		name       string
		method     string
		idemKey    string
		err        error
		status     int
		typ        string
		retryAfter string
	}{
		{"backend terminated, GET", "GET", "", terminated, 503, problem.TypeTemporarilyUnavailable, "2"},
		{"backend terminated, POST with Idempotency-Key", "POST", "k1", terminated, 503, problem.TypeTemporarilyUnavailable, "2"},
		{"backend terminated, POST without one", "POST", "", terminated, 503, problem.TypeOutcomeUnknown, "2"},
		{"deadlock outlasted its retries, POST", "POST", "", &pgconn.PgError{Code: "40P01"}, 503, problem.TypeTemporarilyUnavailable, "1"},
		{"too many connections", "PATCH", "", &pgconn.PgError{Code: "53300"}, 503, problem.TypeTemporarilyUnavailable, "2"},
		{"request in progress", "POST", "k1", fmt.Errorf("create: %w", errInFlight), 409, "https://civicpay.dev/problems/request-in-progress", "1"},
		{"writers closed by a shutdown, POST without a key", "POST", "", fmt.Errorf("record attempt: %w", groupcommit.ErrClosed), 503, problem.TypeTemporarilyUnavailable, "1"},
		{"unique violation", "POST", "", &pgconn.PgError{Code: "23505"}, 500, "https://civicpay.dev/problems/internal-error", ""},
		{"unknown error", "GET", "", errors.New("boom"), 500, "https://civicpay.dev/problems/internal-error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := fiber.New(fiber.Config{ErrorHandler: problem.Handler(slog.New(slog.DiscardHandler),
				problem.Mapping{Err: errInFlight, Status: http.StatusConflict, Title: "Request in progress", RetryAfter: time.Second})})
			app.All("/x", func(*fiber.Ctx) error { return tt.err })
			req := httptest.NewRequest(tt.method, "/x", nil)
			if tt.idemKey != "" {
				req.Header.Set("Idempotency-Key", tt.idemKey)
			}
			res, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			var p problem.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if res.StatusCode != tt.status || p.Status != tt.status || p.Type != tt.typ {
				t.Fatalf("%d %s, want %d %s: %s", res.StatusCode, p.Type, tt.status, tt.typ, body)
			}
			if got := res.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if tt.status == 503 && strings.Contains(string(body), "administrator command") {
				t.Fatalf("the database's message reaches the client: %s", body)
			}
		})
	}
}
