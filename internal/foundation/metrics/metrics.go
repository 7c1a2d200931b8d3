// Package metrics holds civicpay's Prometheus registry: HTTP request counters and
// latencies, and the service's own counters beside them. Each server gets its own
// registry, so tests can build many.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of collectors of one server.
type Metrics struct {
	Registry     *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	// OrderEvents counts order state changes by type (order.created, order.paid, …).
	OrderEvents *prometheus.CounterVec
	// BatchSizes observes the size of every group-commit batch by writer
	// (orders, results, attempts): how much load shares its transactions.
	BatchSizes *prometheus.HistogramVec
}

// DBRetries counts database operations run again because PostgreSQL said
// they may be (internal/foundation/db.Retry), by operation and reason (db.Reason*). It
// is process-wide, as the retries are: internal/foundation/db counts into it without
// knowing any server, and every registry New makes exports it.
var DBRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "civicpay_db_retries_total",
	Help: "Database operations run again after a serialization failure, deadlock or lost connection, by operation and reason.",
}, []string{"op", "reason"})

// New returns a registry with Go, process and civicpay collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicpay_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "civicpay_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		OrderEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicpay_order_events_total", Help: "Order state changes by event type.",
		}, []string{"type"}),
		BatchSizes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "civicpay_group_commit_batch_size", Help: "Items written together in one group-commit batch, by writer.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}, []string{"writer"}),
	}
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.OrderEvents, m.BatchSizes, DBRetries)
	return m
}

// Middleware records every request under its route pattern (not its raw path,
// so ids and references do not explode the label space). It sits outside the
// access log, which has already turned any error into its response.
//
// A label value is kept by the registry for the life of the process, so it
// must not be a string Fiber hands out: those point into request buffers
// that fasthttp reuses (Fiber is not Immutable), and a method label read as
// "GET" became "POS" or "GETT" once another request overwrote it, with
// duplicate series failing every scrape. The method is Method's constant;
// the route is the registered pattern, which Fiber owns for the app's life.
func (m *Metrics) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		method, route := Method(c), c.Route().Path
		status := c.Response().StatusCode()
		m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.httpDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return err
	}
}

// Method is the request's method as a constant string, safe to keep after
// the request (c.Method() is not): one of the methods Fiber serves, or
// "OTHER" (which also bounds the label's values).
func Method(c *fiber.Ctx) string {
	switch m := c.Method(); m {
	case fiber.MethodGet:
		return fiber.MethodGet
	case fiber.MethodHead:
		return fiber.MethodHead
	case fiber.MethodPost:
		return fiber.MethodPost
	case fiber.MethodPut:
		return fiber.MethodPut
	case fiber.MethodDelete:
		return fiber.MethodDelete
	case fiber.MethodConnect:
		return fiber.MethodConnect
	case fiber.MethodOptions:
		return fiber.MethodOptions
	case fiber.MethodTrace:
		return fiber.MethodTrace
	case fiber.MethodPatch:
		return fiber.MethodPatch
	default:
		return "OTHER"
	}
}

// Handler serves the registry at /metrics (and nothing else: 404), for the
// separate listener it lives on (never the public port). A collector that
// fails once (the process collector reads /proc) must not blank the whole
// scrape with a 500: the rest is served and the error logged.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, ErrorLog: scrapeLog{log},
	}))
	return mux
}

// scrapeLog passes Prometheus' scrape errors to the service log.
type scrapeLog struct{ log *slog.Logger }

func (l scrapeLog) Println(v ...any) { l.log.Warn("metrics scrape", "err", fmt.Sprint(v...)) }
