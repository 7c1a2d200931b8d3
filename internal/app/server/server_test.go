package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
)

// TestReadyzHidesTheCause: a failing readiness probe answers 503 with no
// word of the cause (a database error names hosts, users and databases);
// the cause goes to the log.
func TestReadyzHidesTheCause(t *testing.T) {
	t.Parallel()
	cause := `database: failed to connect to user=civicpay database=civicpay_prod host=10.1.2.3: password authentication failed`
	tests := []struct {
		name   string
		ready  error
		status int
	}{
		{"not ready", errors.New(cause), 503},
		{"ready", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			app := New(Options{
				Log: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: metrics.New(), Auth: auth.NewAuthenticator(nil, 0), MaxBodyBytes: 1 << 20, Limits: testLimits,
				Ready: func(context.Context) error { return tt.ready },
			})
			res, err := app.Test(httptest.NewRequest("GET", "/readyz", nil))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("GET /readyz = %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			for _, leak := range []string{"10.1.2.3", "civicpay_prod", "password", "database", "user="} {
				if strings.Contains(string(body), leak) {
					t.Errorf("body tells %q: %s", leak, body)
				}
			}
			if tt.ready != nil && !strings.Contains(logs.String(), "password authentication failed") {
				t.Errorf("the cause is not logged:\n%s", logs.String())
			}
		})
	}
}

// TestHSTSOption: the header only when asked for, on errors too.
func TestHSTSOption(t *testing.T) {
	t.Parallel()
	for _, hsts := range []bool{true, false} {
		app := New(Options{
			Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(), Auth: auth.NewAuthenticator(nil, 0), MaxBodyBytes: 1 << 20, Limits: testLimits,
			Ready: func(context.Context) error { return nil }, HSTS: hsts,
		})
		for _, path := range []string{"/healthz", "/nowhere"} {
			res, err := app.Test(httptest.NewRequest("GET", path, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Header.Get("Strict-Transport-Security"); (got == "max-age=31536000; includeSubDomains") != hsts {
				t.Errorf("HSTS %v, GET %s (%d): header %q", hsts, path, res.StatusCode, got)
			}
		}
	}
}

// testLimits are the timeouts of the tests that build New in this package
// (internal/app/config, which has the service's, imports this package).
var testLimits = Limits{ReadTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second, UploadReadTimeout: time.Minute, RequestTimeout: time.Minute}
