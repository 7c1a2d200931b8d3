// Package server builds civicpay's HTTP application: middleware (request id, JSON
// access log, recovery, metrics, body limit, HSTS, no NUL or invalid UTF-8 in
// a path or query, JSON bodies only under /v1), the error handler that maps
// every error to problem+json in one place, health and readiness probes, the
// OpenAPI document, and the routes of each domain package. /metrics is not
// here: it is served on its own listener (metrics.Handler).
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/valyala/fasthttp"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/internal/foundation/ratelimit"
)

// Router is anything that mounts routes (every domain package's Handler).
type Router interface{ Routes(r fiber.Router) }

// Options are the pieces the server is built from.
type Options struct {
	Log          *slog.Logger
	Metrics      *metrics.Metrics
	Auth         *auth.Authenticator
	MaxBodyBytes int
	// Ready reports whether the service can take traffic (database, River).
	Ready func(ctx context.Context) error
	// API routers are mounted on /v1 behind API-key authentication.
	API []Router
	// Public routers are mounted at the root with no authentication: citizen
	// pages and gateway callbacks, which carry their own signatures.
	Public []Router
	// Errors maps domain errors to HTTP statuses.
	Errors []problem.Mapping
	// HSTS sends Strict-Transport-Security on every response: set when the
	// public URL is https.
	HSTS bool
	// StreamedPaths are the routes (statement uploads; the path exactly, not
	// the routes under it) whose handlers read the request body as a stream
	// and enforce their own, larger limit; every other route keeps
	// MaxBodyBytes. A POST to one of them has
	// Limits.UploadReadTimeout to send its body.
	StreamedPaths []string
	// Limits are the abuse controls.
	Limits Limits
	// InFlight, if set, keeps the requests being served (see InFlight).
	InFlight *InFlight
}

// Limits are the server's abuse controls. A rate of 0 turns that limit off.
// They have no defaults of their own (internal/app/config has the service's);
// New panics on Limits Check refuses.
type Limits struct {
	// PerIP bounds each client IP's requests a minute, before authentication:
	// every request outside /v1 but the gateways' callbacks (which carry
	// their signatures and come in bursts) and the probes; under /v1 only
	// those that fail (status >= 400: unknown keys, forbidden, malformed), the
	// successful ones counting against their key.
	PerIP int
	// PerKey bounds each API key's requests a minute (by key prefix).
	PerKey int
	// TrustedProxies (addresses or CIDRs) may name the client in
	// ProxyHeader; the client of any other peer is the peer itself.
	TrustedProxies []string
	ProxyHeader    string
	// ReadTimeout bounds a new connection's wait for its request and reading
	// any request's headers and body; IdleTimeout a keep-alive connection's
	// wait for the next request. A POST to a StreamedPaths route gets
	// UploadReadTimeout for its body.
	ReadTimeout, IdleTimeout, UploadReadTimeout time.Duration
	// RequestTimeout is the deadline of every request's context,
	// c.UserContext(), which handlers hand to the database, River and group
	// commit; a POST to a StreamedPaths route, whose handler
	// reads the body, has UploadReadTimeout more.
	RequestTimeout time.Duration
}

// Check refuses what would leave the server open to slow clients or cut
// every request: a timeout that is not positive, a negative rate, and
// trusted proxies without a header to read the client from.
func (l Limits) Check() error {
	var bad []string
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ReadTimeout", l.ReadTimeout}, {"IdleTimeout", l.IdleTimeout}, {"UploadReadTimeout", l.UploadReadTimeout}, {"RequestTimeout", l.RequestTimeout}} {
		if d.v <= 0 {
			bad = append(bad, d.name+" must be positive")
		}
	}
	if l.PerIP < 0 || l.PerKey < 0 {
		bad = append(bad, "rates must not be negative")
	}
	if len(l.TrustedProxies) > 0 && l.ProxyHeader == "" {
		bad = append(bad, "TrustedProxies need a ProxyHeader")
	}
	if len(bad) > 0 {
		return fmt.Errorf("server: %s", strings.Join(bad, "; "))
	}
	return nil
}

// New builds the Fiber app. It panics on a MaxBodyBytes that is not positive
// and on Limits Check refuses.
func New(o Options) *fiber.App {
	if o.MaxBodyBytes <= 0 {
		panic("server: MaxBodyBytes must be positive")
	}
	if err := o.Limits.Check(); err != nil {
		panic(err)
	}
	errorHandler := problem.Handler(o.Log, o.Errors...)
	lim := o.Limits
	app := fiber.New(fiber.Config{
		AppName:               "civicpay",
		DisableStartupMessage: true,
		BodyLimit:             o.MaxBodyBytes,
		// Bodies above BodyLimit are streamed rather than refused, so a statement
		// of hundreds of megabytes never sits in memory; bodyLimit below keeps
		// MaxBodyBytes on every route that does not stream.
		StreamRequestBody: true,
		// fasthttp arms ReadTimeout when a connection opens (its first request
		// must arrive whole within it: no slowloris) and again at each later
		// request's first byte; uploadTimeout below lengthens it for the body
		// of a statement upload only.
		ReadTimeout:  lim.ReadTimeout,
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  lim.IdleTimeout,
		ErrorHandler: errorHandler,
		// c.IP() is the TCP peer unless the peer is a trusted proxy.
		ProxyHeader:             proxyHeader(lim),
		EnableTrustedProxyCheck: true,
		TrustedProxies:          lim.TrustedProxies,
		EnableIPValidation:      true,
	})
	// First, so every response carries it, errors included.
	if o.HSTS {
		app.Use(func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000; includeSubDomains")
			return c.Next()
		})
	}
	app.Server().HeaderReceived = uploadTimeout(o.StreamedPaths, lim.UploadReadTimeout)
	// Order matters: errors are turned into problem+json inside accessLog, so the
	// log line and the metrics see the status the client gets; recover sits
	// innermost so a panic becomes a logged 500, never a dropped connection.
	app.Use(requestID())
	if o.InFlight != nil {
		app.Use(o.InFlight.middleware())
	}
	app.Use(o.Metrics.Middleware(), accessLog(o.Log, errorHandler, o.StreamedPaths), recover.New(),
		requestDeadline(lim.RequestTimeout, lim.UploadReadTimeout, o.StreamedPaths),
		ratelimit.New(ratelimit.Rule{Name: "per client IP", Max: lim.PerIP, Key: publicIP}),
		bodyLimit(o.MaxBodyBytes, o.StreamedPaths), textInput(callbackPaths))

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := o.Ready(ctx); err != nil {
			// The cause (a database error names hosts and users) goes to the
			// log; the probe, public, says only that it is not ready.
			o.Log.ErrorContext(ctx, "not ready", "err", err, "request_id", c.Locals("request_id"))
			return problem.New(http.StatusServiceUnavailable, "Not ready", "the service is not ready")
		}
		return c.JSON(fiber.Map{"status": "ready"})
	})
	app.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/vnd.oai.openapi+json")
		return c.Send(OpenAPI())
	})

	for _, r := range o.Public {
		r.Routes(app)
	}
	// Under /v1 the client IP's failures are counted (after resolveErrors has
	// written them), then the key's requests once it is known.
	v1 := app.Group("/v1",
		ratelimit.New(ratelimit.Rule{Name: "per client IP", Max: lim.PerIP, Key: ratelimit.ClientIP, OnlyFailures: true}),
		resolveErrors(errorHandler), o.Auth.Middleware(),
		ratelimit.New(ratelimit.Rule{Name: "per API key", Max: lim.PerKey, Key: keyPrefix}),
		requireJSON(o.StreamedPaths))
	for _, r := range o.API {
		r.Routes(v1)
	}
	app.Use(func(c *fiber.Ctx) error {
		return problem.New(http.StatusNotFound, "Not found", "no route "+c.Method()+" "+c.Path())
	})
	if o.InFlight != nil {
		o.InFlight.setRoutes(app)
	}
	return app
}

// callbackPaths are the gateways' callbacks: they speak the gateways' wire
// protocols, are checked by their adapters (signature first) and answer in
// those protocols, so textInput leaves them alone.
var callbackPaths = []string{"/callbacks/"}

// proxyHeader is the header naming the client, or none without trusted proxies.
func proxyHeader(l Limits) string {
	if len(l.TrustedProxies) == 0 {
		return ""
	}
	return l.ProxyHeader
}

// publicIP keys the per-IP limit outside /v1 (which has its own), and skips
// the gateways' callbacks and the probes.
func publicIP(c *fiber.Ctx) string {
	p := c.Path()
	switch {
	case strings.HasPrefix(p, "/v1/"), p == "/v1", strings.HasPrefix(p, "/callbacks/"),
		p == "/healthz", p == "/readyz", p == "/metrics":
		return ""
	}
	return ratelimit.ClientIP(c)
}

// keyPrefix keys the per-key limit: the authenticated key's prefix.
func keyPrefix(c *fiber.Ctx) string { return auth.FromCtx(c).Prefix }

// resolveErrors writes the error of the handlers after it as problem+json at
// once, so that the middleware before it sees the status the client gets.
func resolveErrors(errorHandler fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := c.Next(); err != nil {
			return errorHandler(c, err)
		}
		return nil
	}
}

// uploadTimeout gives a POST to a streamed route (a statement upload) d to
// send its body, from the end of its headers: fasthttp's per-request read
// deadline. Every other request keeps the server's ReadTimeout.
func uploadTimeout(streamed []string, d time.Duration) func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
	return func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		if !h.IsPost() {
			return fasthttp.RequestConfig{}
		}
		path, _, _ := bytes.Cut(h.RequestURI(), []byte("?"))
		if isStreamed(string(path), streamed) {
			return fasthttp.RequestConfig{ReadTimeout: d}
		}
		return fasthttp.RequestConfig{}
	}
}

// requestDeadline gives each request's context (c.UserContext()) a deadline
// of d, or d+upload for a POST to a streamed route, so that nothing a handler
// waits on with it (a query, a full group-commit queue) waits forever. What a
// handler leaves to run after it returns (a streamed response body) must not
// use that context: the deadline is cancelled when the handler returns.
func requestDeadline(d, upload time.Duration, streamed []string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := d
		if c.Method() == fiber.MethodPost && isStreamed(c.Path(), streamed) {
			t += upload
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), t)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// bodyLimit refuses bodies over max (413) on every route but the streamed ones,
// reading a streamed body into memory only up to max.
func bodyLimit(max int, streamed []string) fiber.Handler {
	tooLarge := problem.New(http.StatusRequestEntityTooLarge, "Request Entity Too Large",
		fmt.Sprintf("the body may be at most %d bytes", max))
	return func(c *fiber.Ctx) error {
		if isStreamed(c.Path(), streamed) {
			return c.Next()
		}
		req := c.Request()
		if req.Header.ContentLength() > max {
			return tooLarge
		}
		if req.IsBodyStream() {
			b, err := io.ReadAll(io.LimitReader(req.BodyStream(), int64(max)+1))
			if err != nil {
				return problem.BadRequest("body", "could not read the request body: %v", err)
			}
			if len(b) > max {
				return tooLarge
			}
			req.SetBodyRaw(b)
		}
		return c.Next()
	}
}

// isStreamed reports whether path is one of the streamed routes: that path
// exactly (with or without a trailing slash), not the routes under it — POST
// /v1/statements/{id}/commit is an ordinary JSON route.
func isStreamed(path string, streamed []string) bool {
	path = strings.TrimSuffix(path, "/")
	for _, p := range streamed {
		if path == strings.TrimSuffix(p, "/") {
			return true
		}
	}
	return false
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID takes a sane X-Request-ID from the caller or makes one.
func requestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Get(fiber.HeaderXRequestID)
		if !requestIDRE.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		} else {
			id = string([]byte(id)) // copy: Fiber reuses header memory
		}
		c.Locals("request_id", id)
		c.Set(fiber.HeaderXRequestID, id)
		return c.Next()
	}
}

// accessLog writes one JSON line per request. It logs the path but never the
// query string, headers or body (keys, signatures and national IDs live there).
//
// A refused upload (status >= 400 on a streamed route) closes its connection,
// so fasthttp does not wait, under the long upload timeout, for the rest of a
// body nobody will read.
func accessLog(log *slog.Logger, errorHandler fiber.ErrorHandler, streamed []string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if herr := errorHandler(c, err); herr != nil {
				return herr
			}
		}
		status := c.Response().StatusCode()
		if status >= 400 && c.Method() == fiber.MethodPost && isStreamed(c.Path(), streamed) {
			c.Response().SetConnectionClose()
		}
		lvl, ctx := level(status), c.UserContext()
		if !log.Enabled(ctx, lvl) { // build nothing for a line that is not written
			return nil
		}
		// metrics.Method: a constant, not Fiber's string, should a log
		// handler keep the record past the request.
		attrs := []slog.Attr{slog.String("method", metrics.Method(c)), slog.String("route", c.Route().Path),
			slog.Int("status", status), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Any("request_id", c.Locals("request_id"))}
		if p := auth.FromCtx(c); p.Prefix != "" {
			attrs = append(attrs, slog.String("key", p.Prefix))
		}
		log.LogAttrs(ctx, lvl, "http request", attrs...)
		return nil
	}
}

func level(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
