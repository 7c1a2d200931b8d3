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
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/app/server"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/db"
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
	River   *river.Client[pgx.Tx] // works the jobs (Run starts it)
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
	// WebhookAPI manages agencies' endpoints and deliveries (the API's and the console's).
	WebhookAPI *webhooks.Service
	Gateways   *gateways.Router
	Paying     *payments.Paying

	// background are loops Run runs beside River until shutdown, on every
	// instance (the attempt follow sweep, which must not wait for River's leader).
	background []func(context.Context)
	reads      *db.Reads        // the replica's pool, closed by Close
	inflight   *server.InFlight // requests being served, for the shutdown's log
	jobs       *jobTracker      // jobs running, for the shutdown's log
}

// New wires the application on pool. It refuses to build on a configuration
// that does not Validate (in production: demo secrets, http gateways, no
// receipt secret), and while migrations are pending, naming them.
//
// The stages run top to bottom, each taking what the ones above it made as
// arguments, so none can move above one it needs without the compiler
// noticing:
//
//	foundation → job queue → stores → domains → River client → HTTP server
//
// The job queue is an insert-only River client: every domain that queues jobs
// gets it when it is built, before the client that works those jobs exists
// (that one needs the domains' workers, hence comes after them).
func New(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *slog.Logger) (_ *App, err error) {
	// 1. Foundation: a configuration that validates, a current schema, the
	// data keys, one clock for every business decision, the metrics.
	f, err := newFoundation(ctx, cfg, pool, log)
	if err != nil {
		return nil, err
	}
	a := &App{Config: f.cfg, Log: log, Pool: pool, Metrics: f.metrics, DataKeys: f.keys,
		inflight: server.NewInFlight(), jobs: newJobTracker(log)}
	defer func() {
		if err != nil { // the writers and the breakers' probes of a half-built app
			a.CloseWriters()
			f.reads.Close()
			if a.Gateways != nil {
				a.Gateways.Close()
			}
		}
	}()

	// 2. The job queue every domain inserts River jobs through.
	q, err := newJobQueue(f)
	if err != nil {
		return nil, err
	}

	// 3. Stores: API keys and the fee catalogue.
	a.Keys = auth.NewStore(pool)
	a.Catalog = catalogue.NewStore(pool)

	// 4. Domains, each from its dependencies; each adds its workers, queues,
	// periodic jobs, routes and error mappings to w (one file per domain).
	w := newWiring(f, q)
	wireAuth(f, w, a.Keys)
	a.Webhooks, a.WebhookAPI = wireWebhooks(f, w)
	wireLedger(f, w)
	a.Notifier = newOrderNotifier(f, a.Webhooks)
	a.Orders = wireOrders(f, w, a.Catalog, a.Notifier)
	if a.Gateways, a.Paying, err = wirePaying(f, w, a.Orders); err != nil {
		return nil, err
	}
	citizen, err := wirePages(f, w, a.Orders, a.Paying, a.Gateways, a.Catalog)
	if err != nil {
		return nil, err
	}
	recon, err := wireRecon(f, w, a.Paying, a.Gateways, a.Webhooks)
	if err != nil {
		return nil, err
	}
	wireRetention(f, w)
	wirePartitions(f, w)
	// The staff console, on the domains above (console.go).
	con := wireConsole(f, w, console.Deps{Orders: a.Orders, Paying: a.Paying, Webhooks: a.WebhookAPI,
		Keys: a.Keys, Catalog: a.Catalog, Gateways: a.Gateways, Receipts: citizen, Reads: f.reads, Recon: recon})
	a.background = append(w.background, f.reads.Watch)
	a.reads = f.reads

	// 5. The River client that works the jobs the domains registered.
	if a.River, err = newRiver(f, w, a.jobs); err != nil {
		return nil, err
	}
	// River's job UI in the console, on that client (console.go).
	jobsUI, err := wireJobsUI(f, con, a.River)
	if err != nil {
		return nil, err
	}
	a.background = append(a.background, jobsUI...)

	// 6. The HTTP server with the domains' routes.
	a.HTTP = newHTTP(f, w, a.Keys, a.ready, a.inflight)
	return a, nil
}

// foundation is what every stage of New builds on.
type foundation struct {
	cfg     config.Config // validated; Clock set
	pool    *pgxpool.Pool
	log     *slog.Logger
	clock   clock.Clock
	keys    *secretbox.Keyring
	metrics *metrics.Metrics
	// reads routes reports to DATABASE_READ_URL's replica within the bound.
	reads *db.Reads
}

func newFoundation(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *slog.Logger) (*foundation, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := migrations.RequireCurrent(ctx, pool); err != nil {
		return nil, err
	}
	if _, err := server.ParseProxies(cfg.Limits.TrustedProxies); err != nil {
		return nil, fmt.Errorf("app: CIVICPAY_TRUSTED_PROXIES: %w", err)
	}
	keys, err := cfg.DataKeyring(cfg.Development(), log)
	if err != nil {
		return nil, err
	}
	// One clock for every service's business decisions (config.Config.Clock).
	cfg.Clock = clock.Or(cfg.Clock)
	reads := db.PrimaryOnly(pool)
	if cfg.DatabaseReadURL != "" {
		replica, err := db.Open(ctx, cfg.DatabaseReadURL, db.Options{MaxConns: pool.Config().MaxConns})
		if err != nil {
			return nil, fmt.Errorf("app: DATABASE_READ_URL: %w", err)
		}
		reads = db.NewReads(pool, replica, cfg.ReadMaxLag, readLagInterval, log)
	}
	return &foundation{cfg: cfg, pool: pool, log: log, clock: cfg.Clock, keys: keys, metrics: metrics.New(), reads: reads}, nil
}

// readLagInterval is how often the replica's lag is measured.
const readLagInterval = 500 * time.Millisecond

// jobQueue is how the domains insert River jobs, in the caller's transaction:
// an insert-only River client (no queues; it is never started). It is built
// on the workers bundle the working client is built on later, and River
// looks the bundle up at each insert, so inserting a kind that no domain
// registered a worker for fails (river.UnknownJobKindError) as it would on
// the working client.
type jobQueue struct {
	insert  *river.Client[pgx.Tx]
	workers *river.Workers
}

func newJobQueue(f *foundation) (*jobQueue, error) {
	workers := river.NewWorkers()
	c, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{Logger: quietRiver(f.log), Workers: workers})
	if err != nil {
		return nil, fmt.Errorf("app: river insert client: %w", err)
	}
	return &jobQueue{insert: c, workers: workers}, nil
}

// wiring collects what each domain contributes to the River client and the
// HTTP server, which are built after all of them. Each domain wires itself in
// its own file (orders.go, ledger.go, paying.go, webhooks.go, …).
type wiring struct {
	jobs *jobQueue // the domains' inserter; its workers bundle takes their workers

	queues   map[string]river.QueueConfig
	periodic []*river.PeriodicJob
	// background loops run on every instance beside River (App.background).
	background []func(context.Context)

	api      []server.Router // under /v1, authenticated
	public   []server.Router // at the root: citizen pages, gateway callbacks
	errors   []problem.Mapping
	streamed []string // routes (exact paths) that stream their request bodies
}

func newWiring(f *foundation, q *jobQueue) *wiring {
	return &wiring{
		jobs:   q,
		queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: f.cfg.RiverWorkers}},
	}
}

// workers is the bundle the domains register their River workers on.
func (w *wiring) workers() *river.Workers { return w.jobs.workers }

// wireAuth mounts the API keys and the audit log.
func wireAuth(f *foundation, w *wiring, keys *auth.Store) {
	w.api = append(w.api, auth.NewHandler(keys, f.cfg.KeyDefaultTTL),
		// Admin and treasury read the audit log: the admin to account for its
		// own changes, treasury to check them (who changed a treasury account,
		// who refunded or posted by hand) — the admin's changes are reviewed by
		// a role that cannot make them.
		audit.NewHandler(f.pool, auth.Require(auth.RoleAdmin, auth.RoleTreasury)))
	w.errors = append(w.errors, auth.HTTPErrors...)
}

// newRiver builds the client that works the jobs: the domains' workers,
// queues and periodic jobs, with tracker as middleware (the shutdown's log).
func newRiver(f *foundation, w *wiring, tracker *jobTracker) (*river.Client[pgx.Tx], error) {
	rc, err := river.NewClient(riverpgxv5.New(f.pool), &river.Config{
		Logger:       quietRiver(f.log),
		Queues:       w.queues,
		Workers:      w.workers(),
		PeriodicJobs: w.periodic,
		Middleware:   []rivertype.Middleware{tracker},
		// A job whose process died is run again after this; all jobs are idempotent.
		RescueStuckJobsAfter: f.cfg.RiverRescueAfter,
		// Finished jobs are deleted by River's own cleaner (retention.go);
		// a negative period keeps them.
		CompletedJobRetentionPeriod: keepFor(f.cfg.Retention.CompletedJobs),
		CancelledJobRetentionPeriod: keepFor(f.cfg.Retention.FailedJobs),
		DiscardedJobRetentionPeriod: keepFor(f.cfg.Retention.FailedJobs),
	})
	if err != nil {
		return nil, fmt.Errorf("app: river client: %w", err)
	}
	return rc, nil
}

// newHTTP builds the HTTP server on the domains' routes.
func newHTTP(f *foundation, w *wiring, keys *auth.Store, ready func(context.Context) error, inflight *server.InFlight) *fiber.App {
	cfg := f.cfg
	return server.New(server.Options{
		Log:           f.log,
		Metrics:       f.metrics,
		Auth:          auth.NewAuthenticator(keys, cfg.AuthCacheTTL).CacheFailures(cfg.Limits.AuthFailCacheTTL),
		MaxBodyBytes:  cfg.MaxBodyBytes,
		Ready:         ready,
		HSTS:          strings.HasPrefix(cfg.PublicURL, "https://"),
		API:           w.api,
		Public:        w.public,
		Errors:        w.errors,
		StreamedPaths: w.streamed,
		InFlight:      inflight,
		Limits:        cfg.ServerLimits(),
	})
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
