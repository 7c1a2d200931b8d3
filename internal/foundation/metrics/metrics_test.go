package metrics_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/foundation/metrics"
)

// TestLabelsSurviveTheRequest: Fiber is not Immutable, so c.Method() points
// into a request buffer fasthttp reuses for the next request on any
// connection. Labels made of it changed under the registry's feet: /metrics
// showed method="POS" and method="GETT", and each scrape logged "was
// collected before with the same name and label values". After many
// concurrent requests of several methods and routes, the registry gathers
// without an error, and every method label is one of the methods sent.
func TestLabelsSurviveTheRequest(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(m.Middleware())
	ok := func(c *fiber.Ctx) error { return c.SendString("ok") }
	app.Get("/v1/ledger/balances", ok)
	app.Post("/v1/ledger/balances", ok)
	app.Get("/v1/orders/:id", ok)
	app.Post("/v1/orders", ok)
	app.Put("/v1/orders/:id", ok)
	app.Delete("/v1/orders/:id", ok)
	app.Patch("/v1/webhooks/endpoints/:id", ok)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	base := "http://" + ln.Addr().String()

	reqs := []struct{ method, path string }{
		{"GET", "/v1/ledger/balances"}, {"POST", "/v1/ledger/balances"}, {"GET", "/v1/orders/1"},
		{"POST", "/v1/orders"}, {"PUT", "/v1/orders/2"}, {"DELETE", "/v1/orders/3"},
		{"PATCH", "/v1/webhooks/endpoints/4"}, {"OPTIONS", "/v1/orders"}, {"GET", "/nowhere"},
	}
	sent := map[string]bool{}
	for _, r := range reqs {
		sent[r.method] = true
	}
	// Few keep-alive connections, many requests each: fasthttp reuses each
	// connection's request buffers for the next request.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, MaxConnsPerHost: 4}}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				r := reqs[(w+i)%len(reqs)]
				req, _ := http.NewRequest(r.method, base+r.path, nil)
				res, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	families, err := m.Registry.Gather()
	if err != nil {
		msg := err.Error()
		t.Fatalf("gather: %d bytes of errors, beginning: %.1500s", len(msg), msg)
	}
	var seen int
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "civicpay_http_") {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() != "method" {
					continue
				}
				seen++
				if !sent[l.GetValue()] {
					t.Errorf("%s has method=%q, not a method sent (%v)", f.GetName(), l.GetValue(), keys(sent))
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no civicpay_http_* series with a method label: the test measured nothing")
	}
}

func keys(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return fmt.Sprint(s)
}
