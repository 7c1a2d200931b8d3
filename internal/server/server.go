// Package server builds civicpay's HTTP application: middleware (request id, JSON
// access log, recovery, metrics, body limit, HSTS), the error handler that maps
// every error to problem+json in one place, health and readiness probes, the
// OpenAPI document, and the routes of each domain package. /metrics is not
// here: it is served on its own listener (metrics.Handler).
package server

import (
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

	"github.com/civicpay/civicpay/internal/auth"
	"github.com/civicpay/civicpay/internal/metrics"
	"github.com/civicpay/civicpay/internal/problem"
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
	// StreamedPaths are route prefixes (statement uploads) whose handlers read
	// the request body as a stream and enforce their own, larger limit; every
	// other route keeps MaxBodyBytes.
	StreamedPaths []string
}

// New builds the Fiber app.
func New(o Options) *fiber.App {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	errorHandler := problem.Handler(o.Log, o.Errors...)
	app := fiber.New(fiber.Config{
		AppName:               "civicpay",
		DisableStartupMessage: true,
		BodyLimit:             o.MaxBodyBytes,
		// Bodies above BodyLimit are streamed rather than refused, so a statement
		// of hundreds of megabytes never sits in memory; bodyLimit below keeps
		// MaxBodyBytes on every route that does not stream.
		StreamRequestBody: true,
		ReadTimeout:       5 * time.Minute,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorHandler:      errorHandler,
	})
	// First, so every response carries it, errors included.
	if o.HSTS {
		app.Use(func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000; includeSubDomains")
			return c.Next()
		})
	}
	// Order matters: errors are turned into problem+json inside accessLog, so the
	// log line and the metrics see the status the client gets; recover sits
	// innermost so a panic becomes a logged 500, never a dropped connection.
	app.Use(requestID(), o.Metrics.Middleware(), accessLog(o.Log, errorHandler), recover.New(),
		bodyLimit(o.MaxBodyBytes, o.StreamedPaths))

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
	v1 := app.Group("/v1", o.Auth.Middleware())
	for _, r := range o.API {
		r.Routes(v1)
	}
	app.Use(func(c *fiber.Ctx) error {
		return problem.New(http.StatusNotFound, "Not found", "no route "+c.Method()+" "+c.Path())
	})
	return app
}

// bodyLimit refuses bodies over max (413) on every route but the streamed ones,
// reading a streamed body into memory only up to max.
func bodyLimit(max int, streamed []string) fiber.Handler {
	tooLarge := problem.New(http.StatusRequestEntityTooLarge, "Request Entity Too Large",
		fmt.Sprintf("the body may be at most %d bytes", max))
	return func(c *fiber.Ctx) error {
		for _, p := range streamed {
			if strings.HasPrefix(c.Path(), p) {
				return c.Next()
			}
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
func accessLog(log *slog.Logger, errorHandler fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if herr := errorHandler(c, err); herr != nil {
				return herr
			}
		}
		status := c.Response().StatusCode()
		lvl, ctx := level(status), c.UserContext()
		if !log.Enabled(ctx, lvl) { // build nothing for a line that is not written
			return nil
		}
		attrs := []slog.Attr{slog.String("method", c.Method()), slog.String("route", c.Route().Path),
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
