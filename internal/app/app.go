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
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/audit"
	"github.com/civicpay/civicpay/internal/auth"
	"github.com/civicpay/civicpay/internal/clock"
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
	a := &App{Config: cfg, Log: log, Pool: pool, Metrics: metrics.New(), DataKeys: dataKeys}
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
		Auth:          auth.NewAuthenticator(a.Keys, cfg.AuthCacheTTL).CacheFailures(cfg.Limits.AuthFailCacheTTL),
		MaxBodyBytes:  cfg.MaxBodyBytes,
		Ready:         a.ready,
		HSTS:          strings.HasPrefix(cfg.PublicURL, "https://"),
		API:           w.api,
		Public:        w.public,
		Errors:        w.errors,
		StreamedPaths: w.streamed,
		Limits: server.Limits{
			PerIP: cfg.Limits.RatePerIP, PerKey: cfg.Limits.RatePerKey,
			TrustedProxies: cfg.Limits.TrustedProxies, ProxyHeader: cfg.Limits.ProxyHeader,
			ReadTimeout: cfg.Limits.ReadTimeout, IdleTimeout: cfg.Limits.IdleTimeout,
			UploadReadTimeout: cfg.Limits.UploadReadTimeout,
		},
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

// Run starts River, serves HTTP on ln and, if metricsLn is not nil,
// Prometheus' /metrics on metricsLn (never on the public ln) until ctx is
// cancelled, then shuts down gracefully: in-flight requests finish, River
// finishes running jobs.
func (a *App) Run(ctx context.Context, ln, metricsLn net.Listener) error {
	ln, err := server.LimitConns(ln, a.Config.Limits.MaxConnsPerIP, a.Config.Limits.TrustedProxies)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if err := a.River.Start(ctx); err != nil {
		return fmt.Errorf("app: start river: %w", err)
	}
	errc := make(chan error, 2)
	go func() { errc <- a.HTTP.Listener(ln) }()
	var ms *http.Server
	if metricsLn != nil {
		ms = &http.Server{Handler: a.Metrics.Handler(a.Log), ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() {
			if err := ms.Serve(metricsLn); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
		a.Log.Info("metrics serving", "addr", metricsLn.Addr().String())
	}
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
	if ms != nil {
		if err := ms.Close(); err != nil {
			errs = append(errs, fmt.Errorf("metrics close: %w", err))
		}
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
