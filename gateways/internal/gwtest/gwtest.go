// Package gwtest helps the adapters' tests play a gateway's server side over
// real HTTP (httptest) and check how failures are classified.
package gwtest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
)

// Server starts an httptest.Server running h and closes it when the test ends.
func Server(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// DecodeJSON decodes the request body into v. It may run in a handler's
// goroutine, so it reports with Errorf and returns false on failure.
func DecodeJSON(t testing.TB, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("request Content-Type = %q, want application/json", ct)
		return false
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		t.Errorf("decode request: %v", err)
		return false
	}
	return true
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Call makes one call to a gateway at baseURL with an adapter whose per-call
// timeout is timeout.
type Call func(ctx context.Context, baseURL string, timeout time.Duration) error

// FailureModes checks how call classifies failures: a 5xx answer, a server
// slower than the timeout and a refused connection are technical; the
// caller's own cancellation, an unreadable 2xx body (ErrMalformed) and an
// unreadable 4xx body (ErrRejected) are not.
func FailureModes(t *testing.T, call Call) {
	t.Helper()
	write := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	slow := func(_ http.ResponseWriter, r *http.Request) {
		// Reading the body to its end lets the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		cancelled bool
		technical bool
		is        error
	}{
		{name: "503 with html", handler: write(http.StatusServiceUnavailable, "<html>down</html>"), technical: true},
		{name: "500 with json", handler: write(http.StatusInternalServerError, `{}`), technical: true},
		{name: "slower than timeout", handler: slow, technical: true, is: context.DeadlineExceeded},
		{name: "connection refused", handler: nil, technical: true},
		{name: "caller cancelled", handler: slow, cancelled: true, is: context.Canceled},
		{name: "unreadable 200", handler: write(http.StatusOK, "<html>"), is: gateways.ErrMalformed},
		{name: "unreadable 404", handler: write(http.StatusNotFound, "not found"), is: gateways.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			if tt.handler == nil {
				srv.Close() // nothing listens at srv.URL any more
			} else {
				t.Cleanup(srv.Close)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			err := call(ctx, srv.URL, 100*time.Millisecond)
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			if got := gateways.IsTechnical(err); got != tt.technical {
				t.Errorf("IsTechnical(%v) = %v, want %v", err, got, tt.technical)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
}

// CheckResult fails the test unless got equals want, comparing amounts and
// times by value.
func CheckResult(t testing.TB, got, want gateways.Result) {
	t.Helper()
	sameAmount, samePaidAt := got.Amount.Equal(want.Amount), got.PaidAt.Equal(want.PaidAt)
	got.Amount, got.PaidAt = want.Amount, want.PaidAt
	if !sameAmount || !samePaidAt || got != want {
		t.Errorf("result = %+v (amount same: %v, paid at same: %v)\nwant     %+v", got, sameAmount, samePaidAt, want)
	}
}

// JSONServer plays a JSON API at path: it decodes each POSTed request into a
// T and answers with handle's result as JSON. It returns the base URL.
func JSONServer[T any](t *testing.T, path string, handle func(req T) (answer any)) string {
	t.Helper()
	return Server(t, func(w http.ResponseWriter, r *http.Request) {
		var req T
		if r.Method != http.MethodPost || r.URL.Path != path {
			t.Errorf("request %s %s, want POST %s", r.Method, r.URL.Path, path)
		}
		if !DecodeJSON(t, r, &req) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		WriteJSON(w, handle(req))
	}).URL
}

// FailureModesOf runs FailureModes for each named call, on an adapter built
// by newAdapter for each server.
func FailureModesOf[A any](t *testing.T, newAdapter func(t testing.TB, baseURL string, timeout time.Duration) A,
	calls map[string]func(context.Context, A) error) {
	t.Helper()
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			FailureModes(t, func(ctx context.Context, baseURL string, timeout time.Duration) error {
				return call(ctx, newAdapter(t, baseURL, timeout))
			})
		})
	}
}
