// Package app is civicpay's composition root: it builds every service, River
// worker and HTTP handler from the configuration and runs them. cmd/civicpay
// calls it for `serve`; end-to-end tests build the same thing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/app/server"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
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
	Orders  *payments.Orders
	Keys    *auth.Store
	Catalog *catalogue.Store
	// DataKeys seal national IDs and webhook signing secrets in the database.
	DataKeys *secretbox.Keyring
	// Notifier tells webhooks (and metrics) about order changes; Webhooks publishes.
	Notifier *orderNotifier
	Webhooks *webhooks.Publisher
	// Gateways and Paying are set by wirePaying (paying.go).
	Gateways *gateways.Router
	Paying   *payments.Paying

	// background are loops Run runs beside River until shutdown, on every
	// instance (the attempt follow sweep, which must not wait for River's leader).
	background []func(context.Context)
	inflight   *server.InFlight // requests being served, for the shutdown's log
	jobs       *jobTracker      // jobs running, for the shutdown's log
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

// New wires the application on pool. It refuses to build on a configuration
// that does not Validate (in production: demo secrets, http gateways, no
// receipt secret), and while migrations are pending, naming them.
func New(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := migrations.RequireCurrent(ctx, pool); err != nil {
		return nil, err
	}
	dataKeys, err := cfg.DataKeyring(cfg.Development(), log)
	if err != nil {
		return nil, err
	}
	// One clock for every service's business decisions (config.Config.Clock).
	cfg.Clock = clock.Or(cfg.Clock)
	a := &App{Config: cfg, Log: log, Pool: pool, Metrics: metrics.New(), DataKeys: dataKeys,
		inflight: server.NewInFlight(), jobs: newJobTracker(log)}
	w := &wiring{
		workers: river.NewWorkers(),
		queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.RiverWorkers}},
		errors:  append([]problem.Mapping(nil), auth.HTTPErrors...),
	}
	if _, err := server.ParseProxies(cfg.Limits.TrustedProxies); err != nil {
		return nil, fmt.Errorf("app: CIVICPAY_TRUSTED_PROXIES: %w", err)
	}
	a.Keys = auth.NewStore(pool)
	w.api = append(w.api, auth.NewHandler(a.Keys, cfg.KeyDefaultTTL),
		// Admin and treasury read the audit log: the admin to account for its
		// own changes, treasury to check them (who changed a treasury account,
		// who refunded or posted by hand) — the admin's changes are reviewed by
		// a role that cannot make them.
		audit.NewHandler(pool, auth.Require(auth.RoleAdmin, auth.RoleTreasury)))
	for _, wire := range []func(context.Context, *wiring) error{a.wireWebhooks, a.wireLedger, a.wireOrders, a.wirePaying, a.wirePages, a.wireRecon} {
		if err := wire(ctx, w); err != nil {
			a.CloseWriters()
			return nil, err
		}
	}

	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:       quietRiver(log),
		Queues:       w.queues,
		Workers:      w.workers,
		PeriodicJobs: w.periodic,
		Middleware:   []rivertype.Middleware{a.jobs},
		// A job whose process died is run again after this; all jobs are idempotent.
		RescueStuckJobsAfter: cfg.RiverRescueAfter,
	})
	if err != nil {
		a.CloseWriters()
		return nil, fmt.Errorf("app: river client: %w", err)
	}
	a.River = rc
	for _, f := range w.afterRiver {
		f(rc)
	}

	a.HTTP = server.New(server.Options{
		Log:           log,
		Metrics:       a.Metrics,
		Auth:          auth.NewAuthenticator(a.Keys, cfg.AuthCacheTTL).CacheFailures(cfg.Limits.AuthFailCacheTTL),
		MaxBodyBytes:  cfg.MaxBodyBytes,
		Ready:         a.ready,
		HSTS:          strings.HasPrefix(cfg.PublicURL, "https://"),
		API:           w.api,
		Public:        w.public,
		Errors:        w.errors,
		StreamedPaths: w.streamed,
		InFlight:      a.inflight,
		Limits:        cfg.ServerLimits(),
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
