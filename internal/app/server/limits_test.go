package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/app/server"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
)

type routes func(fiber.Router)

func (f routes) Routes(r fiber.Router) { f(r) }

// bodyLen answers with the length of the body it read, streamed or not.
func bodyLen(c *fiber.Ctx) error {
	n := len(c.Body())
	if c.Request().IsBodyStream() {
		b, err := io.ReadAll(c.Request().BodyStream())
		if err != nil {
			return err
		}
		n = len(b)
	}
	return c.SendString(strconv.Itoa(n))
}

// Only a statement upload (a POST to a streamed route) may take longer than
// the short read timeout to send its body; any other request whose body
// stalls past it is cut off.
func TestOnlyUploadsGetTheLongBodyTimeout(t *testing.T) {
	t.Parallel()
	app := server.New(server.Options{
		Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(), Auth: auth.NewAuthenticator(nil, 0),
		Ready: func(context.Context) error { return nil },
		Public: []server.Router{routes(func(r fiber.Router) {
			r.Post("/upload", bodyLen)
			r.Post("/upload/7/commit", bodyLen) // under the streamed route, not streamed
			r.Post("/other", bodyLen)
		})},
		StreamedPaths: []string{"/upload"},
		MaxBodyBytes:  defaults.MaxBodyBytes,
		Limits:        limits(func(l *server.Limits) { l.ReadTimeout, l.UploadReadTimeout = 200*time.Millisecond, time.Minute }),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })

	for _, tc := range []struct {
		path string
		ok   bool
	}{{"/upload", true}, {"/upload/7/commit", false}, {"/other", false}} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: civicpay\r\nContent-Length: 10\r\n\r\n12345", tc.path)
			// The rest of the body comes well after the 200ms read timeout
			// and well within the minute an upload has.
			time.Sleep(time.Second)
			_, _ = io.WriteString(c, "67890")
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			var body []byte
			if err == nil {
				body, _ = io.ReadAll(res.Body)
				res.Body.Close()
			}
			got := err == nil && res.StatusCode == http.StatusOK && string(body) == "10"
			if got != tc.ok {
				t.Fatalf("slow body to %s: answered in full %v (%v %q), want %v", tc.path, got, err, body, tc.ok)
			}
		})
	}
}

// defaults is the service's configuration; limits its server limits changed
// by change.
var defaults = config.Defaults("")

func limits(change func(*server.Limits)) server.Limits {
	l := defaults.ServerLimits()
	change(&l)
	return l
}
