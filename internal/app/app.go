// Package app is civicpay's composition root: it builds every service, River
// worker and HTTP handler from the configuration and runs them. cmd/civicpay
// calls it for `serve`; end-to-end tests build the same thing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/auth"
	"github.com/civicpay/civicpay/internal/config"
	"github.com/civicpay/civicpay/internal/metrics"
	"github.com/civicpay/civicpay/internal/problem"
	"github.com/civicpay/civicpay/internal/secretbox"
	"github.com/civicpay/civicpay/internal/server"
	"github.com/civicpay/civicpay/migrations"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/webhooks"
)

// App is a running civicpay: HTTP server plus River workers on one pool.
type App struct {
	Config  config.Config
	Log     *slog.Logger
	Pool    *pgxpool.Pool
	River   *river.Client[pgx.Tx]
	HTTP    *fiber.App
	Metrics *metrics.Metrics
	Orders  *payments.Service
	Keys    *auth.Store
	Catalog *catalogue.Store
	// DataKeys seal national IDs and webhook signing secrets in the database.
	DataKeys *secretbox.Keyring
	// Notifier tells webhooks (and metrics) about order changes; Webhooks publishes.
	Notifier *orderNotifier
	Webhooks *webhooks.Publisher
	// Gateways and Paying are set by wirePaying (paying.go).
	Gateways *gateways.Router
	Paying   *payments.Flow
}

// wiring collects what each domain contributes before the River client and the
// HTTP server are built. Each domain wires itself in its own file (orders.go,
// ledger.go, paying.go, webhooks.go, …).
type wiring struct {
	workers  *river.Workers
	periodic []*river.PeriodicJob
	queues   map[string]river.QueueConfig
	api      []server.Router // under /v1, authenticated
	public   []server.Router // at the root: citizen pages, gateway callbacks
	errors   []problem.Mapping
	streamed []string // route prefixes that stream their request bodies
	// afterRiver runs once the River client exists, for services that insert jobs.
	afterRiver []func(*river.Client[pgx.Tx])
}

// New wires the application on pool. It refuses to build while migrations are
// pending, naming them.
func New(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *slog.Logger) (*App, error) {
	if err := migrations.RequireCurrent(ctx, pool); err != nil {
		return nil, err
	}
	// TODO(integrator): cfg.Development() once CIVICPAY_ENV is in config.
	dataKeys, err := cfg.DataKeyring(os.Getenv("CIVICPAY_ENV") == "development", log)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, Pool: pool, Metrics: metrics.New(), DataKeys: dataKeys}
	w := &wiring{
		workers: river.NewWorkers(),
		queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.RiverWorkers}},
		errors:  append([]problem.Mapping(nil), auth.HTTPErrors...),
	}
	a.Keys = auth.NewStore(pool)
	w.api = append(w.api, auth.NewHandler(a.Keys))
	for _, wire := range []func(context.Context, *wiring) error{a.wireWebhooks, a.wireLedger, a.wireOrders, a.wirePaying, a.wirePages, a.wireRecon} {
		if err := wire(ctx, w); err != nil {
			return nil, err
		}
	}

	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:       quietRiver(log),
		Queues:       w.queues,
		Workers:      w.workers,
		PeriodicJobs: w.periodic,
		// A job whose process died is run again after this; all jobs are idempotent.
		RescueStuckJobsAfter: cfg.RiverRescueAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("app: river client: %w", err)
	}
	a.River = rc
	for _, f := range w.afterRiver {
		f(rc)
	}

	a.HTTP = server.New(server.Options{
		Log:           log,
		Metrics:       a.Metrics,
		Auth:          auth.NewAuthenticator(a.Keys, cfg.AuthCacheTTL),
		MaxBodyBytes:  cfg.MaxBodyBytes,
		Ready:         a.ready,
		API:           w.api,
		Public:        w.public,
		Errors:        w.errors,
		StreamedPaths: w.streamed,
	})
	return a, nil
}

func (a *App) ready(ctx context.Context) error {
	if err := a.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	var n int
	if err := a.Pool.QueryRow(ctx, `SELECT count(*) FROM river_queue`).Scan(&n); err != nil {
		return fmt.Errorf("river tables: %w", err)
	}
	select {
	case <-a.River.Stopped():
		return errors.New("river client stopped")
	default:
	}
	return nil
}

// Run starts River and serves HTTP on ln until ctx is cancelled, then shuts
// down gracefully: in-flight requests finish, River finishes running jobs.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	if err := a.River.Start(ctx); err != nil {
		return fmt.Errorf("app: start river: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.HTTP.Listener(ln) }()
	a.Log.Info("civicpay serving", "addr", ln.Addr().String(), "public_url", a.Config.PublicURL)
	select {
	case err := <-errc:
		return fmt.Errorf("app: http: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down", "grace", a.Config.ShutdownGrace.String())
	var errs []error
	if err := a.HTTP.ShutdownWithTimeout(a.Config.ShutdownGrace); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownGrace)
	defer cancel()
	if err := a.River.Stop(stopCtx); err != nil {
		errs = append(errs, fmt.Errorf("river stop: %w", err))
	}
	a.Log.Info("stopped")
	return errors.Join(errs...)
}

// lateRouter mounts routes whose handler exists only once River does (the
// webhooks API inserts jobs); the server is built after River, so it is set by then.
type lateRouter struct {
	r interface{ Routes(fiber.Router) }
}

func (l *lateRouter) Routes(r fiber.Router) { l.r.Routes(r) }

// quietRiver keeps River's own logs at warn and above.
func quietRiver(log *slog.Logger) *slog.Logger {
	return slog.New(&minLevel{Handler: log.Handler(), min: slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
