package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
)

// echo mounts public routes that answer 200 with what they were given.
type echo struct{}

func (echo) Routes(r fiber.Router) {
	ok := func(c *fiber.Ctx) error { return c.SendString("ok " + c.Params("code") + c.Params("gateway")) }
	r.Get("/things/:code", ok)
	r.Get("/things/:code/parts/:part", ok)
	r.Get("/callbacks/:gateway", ok)
	r.Post("/callbacks/:gateway", ok)
}

// TestTextInput: a NUL (%00) in the path or query is a 422, bytes that are
// not UTF-8 a 400, naming the parameter (by the route's pattern); the
// gateways' callbacks are left to their adapters.
func TestTextInput(t *testing.T) {
	t.Parallel()
	app := New(Options{Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(), Auth: auth.NewAuthenticator(nil, 0), MaxBodyBytes: 1 << 20, Limits: testLimits,
		Ready: func(context.Context) error { return nil }, Public: []Router{echo{}}})
	tests := []struct {
		target string
		status int
		field  string
	}{
		{"/things/AB?q=Bình", 200, ""},
		{"/things/B%C3%ACnh?q=%C3%AC", 200, ""},
		{"/things/AB?q=a%00b", 422, "query.q"},
		{"/things/AB?x=1&q=%FF", 400, "query.q"},
		{"/things/AB?q=%ED%A0%80", 400, "query.q"}, // an encoded surrogate
		{"/things/AB?a%00=1", 422, `query["a\x00"]`},
		{"/things/AB?q=%C0%AF", 400, "query.q"}, // overlong
		{"/things/A%00B", 422, "path.code"},
		{"/things/%FF", 400, "path.code"},
		{"/things/AB/parts/%00", 422, "path.part"},
		{"/nowhere/%00", 422, "path"},
		{"/callbacks/vnpay?vnp_OrderInfo=%00%FF", 200, ""},
		{"/callbacks/%00", 200, ""},
		{"/CALLBACKS/vnpay?vnp_OrderInfo=%00", 200, ""},
	}
	for _, tt := range tests {
		res, err := app.Test(httptest.NewRequest("GET", tt.target, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		var p struct {
			Errors []struct{ Field string } `json:"errors"`
		}
		_ = json.Unmarshal(body, &p)
		if res.StatusCode != tt.status || (tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field)) {
			t.Errorf("GET %s = %d %s, want %d naming %q", tt.target, res.StatusCode, body, tt.status, tt.field)
		}
	}
}

// TestRequireJSON: a body must come as application/json (charset utf-8 if
// any); a request without a body needs no Content-Type, and a POST to a
// streamed route (a statement upload) takes any.
func TestRequireJSON(t *testing.T) {
	t.Parallel()
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		return c.Status(fiber.StatusUnsupportedMediaType).SendString(err.Error())
	}})
	app.Use(requireJSON([]string{"/v1/statements"}))
	app.All("/*", func(c *fiber.Ctx) error { return c.SendString("ok") })
	tests := []struct {
		method, path, contentType, body string
		status                          int
	}{
		{"POST", "/v1/orders", "application/json", "{}", 200},
		{"POST", "/v1/orders", "application/json; charset=UTF-8", "{}", 200},
		{"POST", "/v1/orders", "Application/JSON", "{}", 200},
		{"POST", "/v1/orders", "", "{}", 415},
		{"POST", "/v1/orders", "text/plain", "{}", 415},
		{"POST", "/v1/orders", "application/json; charset=latin1", "{}", 415},
		{"POST", "/v1/orders", "application/jsonx", "{}", 415},
		{"POST", "/v1/orders", "application/x-www-form-urlencoded", "a=1", 415},
		{"PATCH", "/v1/webhook-endpoints/x", "text/plain", "{}", 415},
		{"POST", "/v1/orders/x/cancel", "", "", 200},
		{"GET", "/v1/orders", "", "", 200},
		{"GET", "/v1/orders", "text/plain", "x", 415},
		{"POST", "/v1/statements", "text/csv", "a,b", 200},
		{"POST", "/v1/statements", "", "a,b", 200},
		{"GET", "/v1/statements", "", "", 200},
		{"GET", "/v1/statements", "text/plain", "x", 415},
	}
	for _, tt := range tests {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		req := httptest.NewRequest(tt.method, tt.path, body)
		if tt.contentType != "" {
			req.Header.Set("Content-Type", tt.contentType)
		}
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != tt.status {
			out, _ := io.ReadAll(res.Body)
			t.Errorf("%s %s (%q, %q) = %d %s, want %d", tt.method, tt.path, tt.contentType, tt.body, res.StatusCode, out, tt.status)
		}
	}
}
