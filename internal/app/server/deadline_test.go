package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/app/server"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
)

// Every request's context carries a deadline, RequestTimeout from when its
// handlers start, and a streamed upload's has UploadReadTimeout more (its
// handler reads the body).
func TestRequestContextsHaveADeadline(t *testing.T) {
	t.Parallel()
	const request, upload = time.Hour, 30 * time.Minute
	left := func(c *fiber.Ctx) error {
		dl, ok := c.UserContext().Deadline()
		if !ok {
			return c.SendString("none")
		}
		return c.SendString(time.Until(dl).Round(time.Minute).String())
	}
	app := server.New(server.Options{
		Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(), Auth: auth.NewAuthenticator(nil, 0),
		Ready: func(context.Context) error { return nil },
		Public: []server.Router{routes(func(r fiber.Router) {
			r.Get("/page", left)
			r.Post("/page", left)
			r.Get("/upload", left)
			r.Post("/upload", left)
		})},
		StreamedPaths: []string{"/upload"},
		MaxBodyBytes:  defaults.MaxBodyBytes,
		Limits:        limits(func(l *server.Limits) { l.RequestTimeout, l.UploadReadTimeout = request, upload }),
	})
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/page", "1h0m0s"},
		{"POST", "/page", "1h0m0s"},
		{"GET", "/upload", "1h0m0s"},
		{"POST", "/upload", "1h30m0s"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			res, err := app.Test(httptest.NewRequest(tt.method, tt.path, nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if string(body) != tt.want {
				t.Fatalf("%s %s: the request's context has %s left, want %s", tt.method, tt.path, body, tt.want)
			}
		})
	}
}

// A handler waiting with its request's context on a group-commit queue
// whose writer is stuck answers (an error, the outcome unknown) once the
// request's deadline passes, instead of holding the request forever.
func TestRequestDeadlineEndsAWaitForAStuckQueue(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	q := groupcommit.New(groupcommit.Options{Name: "stuck", Writers: 1, MaxBatch: 1},
		func(ctx context.Context, batch []int) ([]groupcommit.Result[int], error) {
			<-stuck // a database that does not answer
			return make([]groupcommit.Result[int], len(batch)), nil
		})
	t.Cleanup(func() { close(stuck); q.Close() })
	waited := make(chan error, 1)
	app := server.New(server.Options{
		Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(), Auth: auth.NewAuthenticator(nil, 0),
		Ready: func(context.Context) error { return nil },
		Public: []server.Router{routes(func(r fiber.Router) {
			r.Post("/orders", func(c *fiber.Ctx) error {
				_, err := q.Do(c.UserContext(), 1)
				waited <- err
				return err
			})
		})},
		MaxBodyBytes: defaults.MaxBodyBytes,
		Limits:       limits(func(l *server.Limits) { l.RequestTimeout = 10 * time.Millisecond }),
	})
	// The guard only turns a hang into a failure; the answer comes after
	// the 10ms deadline.
	res, err := app.Test(httptest.NewRequest("POST", "/orders", nil), int((30 * time.Second).Milliseconds()))
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("status %d (Retry-After %q), want 503 with Retry-After: a deadline is a passing condition", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if err := <-waited; !errors.Is(err, groupcommit.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the handler's wait ended with %v, want the outcome unknown after the deadline", err)
	}
}
