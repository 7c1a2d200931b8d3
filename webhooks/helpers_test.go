package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// helperEnv, when set to a database URL, turns the test binary into a bare
// delivery process (see TestKilledMidDelivery).
const helperEnv = "WEBHOOKS_TEST_DELIVERY_PROCESS_DB"

func TestMain(m *testing.M) {
	if dbURL := os.Getenv(helperEnv); dbURL != "" {
		os.Exit(runDeliveryProcess(dbURL))
	}
	os.Exit(m.Run())
}

// runDeliveryProcess works deliveries until it is killed (or a minute passes,
// so an orphan cannot linger). It takes no part in leader election.
func runDeliveryProcess(dbURL string) int {
	ctx := context.Background()
	pool, err := db.Open(ctx, dbURL, db.Options{MaxConns: 8})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	client, err := newRiverClient(pool, killTestConfig(), func(c *river.Config) { c.LeaderElectionDisabled = true })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := client.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	time.Sleep(time.Minute)
	return 1
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// testConfig allows loopback receivers and retries within milliseconds.
func testConfig() Config {
	return Config{
		AllowLoopback:      true,
		MaxEndpointsPerKey: 10,
		RetryAfterMax:      time.Hour,
		Timeout:            2 * time.Second,
		RetrySchedule: []time.Duration{
			20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
			150 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 300 * time.Millisecond,
		},
		SecretGrace:   time.Hour,
		DisableAfter:  time.Hour,
		SweepInterval: time.Hour,
		Logger:        discardLogger,
	}
}

// strictConfig is testConfig with the production policy: no loopback.
func strictConfig() Config {
	cfg := testConfig()
	cfg.AllowLoopback = false
	return cfg
}

func killTestConfig() Config {
	cfg := testConfig()
	cfg.Timeout = time.Second
	return cfg
}

// newRiverClient builds a client with the webhook workers on pool.
func newRiverClient(pool *pgxpool.Pool, cfg Config, tune func(*river.Config)) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, NewDeliveryWorker(pool, cfg))
	river.AddWorker(workers, NewSweepWorker(pool, cfg))
	rc := &river.Config{
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{Queue: {MaxWorkers: 10}},
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		TestOnly:          true,
		Logger:            discardLogger,
	}
	if tune != nil {
		tune(rc)
	}
	return river.NewClient(riverpgxv5.New(pool), rc)
}

// env is one test's database, River client, service and keys.
type env struct {
	t     *testing.T
	pool  *pgxpool.Pool
	dbURL string
	cfg   Config
	river *river.Client[pgx.Tx]
	svc   *Service
	pub   *Publisher
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	pool, dbURL := pgtest.NewWithURL(t)
	client, err := newRiverClient(pool, cfg, nil)
	if err != nil {
		t.Fatalf("river client: %v", err)
	}
	return &env{t: t, pool: pool, dbURL: dbURL, cfg: cfg, river: client,
		svc: NewService(pool, client, cfg), pub: NewPublisher(client, cfg)}
}

// start makes the env's client work jobs until the test ends.
func (e *env) start() {
	e.t.Helper()
	startClient(e.t, e.river)
}

// startNewClient starts another client on the env's database (a second
// process, or one configured differently).
func (e *env) startNewClient(cfg Config, tune func(*river.Config)) {
	e.t.Helper()
	c, err := newRiverClient(e.pool, cfg, tune)
	if err != nil {
		e.t.Fatalf("river client: %v", err)
	}
	startClient(e.t, c)
}

func startClient(t *testing.T, c *river.Client[pgx.Tx]) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("start river: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.StopAndCancel(ctx)
	})
}

// key creates an API key (and its agency if needed) and returns its principal.
func (e *env) key(role auth.Role, agency string) auth.Principal {
	e.t.Helper()
	p, _ := e.apiKey(role, agency)
	return p
}

// apiKey is key that also returns the key's secret, for HTTP requests.
func (e *env) apiKey(role auth.Role, agency string) (auth.Principal, string) {
	e.t.Helper()
	ctx := context.Background()
	if agency != "" {
		if _, err := e.pool.Exec(ctx, `INSERT INTO agencies (code, name, treasury_account) VALUES ($1, $1, 'T-1')
			ON CONFLICT DO NOTHING`, agency); err != nil {
			e.t.Fatalf("agency: %v", err)
		}
	}
	k, secret, err := auth.NewStore(e.pool).Create(audit.System(ctx, "test"), role, agency, string(role))
	if err != nil {
		e.t.Fatalf("create key: %v", err)
	}
	p, err := auth.NewStore(e.pool).Authenticate(ctx, secret)
	if err != nil || p.KeyID != k.ID {
		e.t.Fatalf("authenticate key: %v", err)
	}
	return p, secret
}

// endpoint subscribes url for p to events.
func (e *env) endpoint(p auth.Principal, url string, events ...string) EndpointWithSecret {
	e.t.Helper()
	ep, err := e.svc.CreateEndpoint(context.Background(), p, EndpointInput{URL: url, Events: events})
	if err != nil {
		e.t.Fatalf("create endpoint: %v", err)
	}
	return ep
}

// publish commits one event and returns its id.
func (e *env) publish(ev Event) string {
	e.t.Helper()
	var id string
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		id, err = e.pub.Publish(context.Background(), tx, ev)
		return err
	})
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return id
}

// orderPaid is an order.paid event for agency (and owner, if given).
func orderPaid(agency string, owner *uuid.UUID) Event {
	subject := uuid.NewString()
	data, _ := json.Marshal(map[string]any{"id": subject, "status": "paid", "total": "150000", "currency": "VND"})
	return Event{Type: EventOrderPaid, AgencyCode: agency, OwnerKeyID: owner, Subject: subject, Data: data}
}

// eventually polls cond until it holds, failing the test after 30 s.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count runs a SELECT count(*)-style query.
func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

// settled reports whether no delivery job is left to run.
func (e *env) settled() bool {
	return e.count(`SELECT count(*) FROM river_job WHERE kind = 'webhooks.deliver'
		AND state NOT IN ('completed', 'cancelled', 'discarded')`) == 0
}

// received is one request a receiver got, with the status it answered.
type received struct {
	Header http.Header
	Body   []byte
	Status int
}

func (r received) id() string { return r.Header.Get(HeaderID) }

// receiver is a webhook receiver recording every request.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

// respondFunc answers request number n (from 0) with a status and a body.
type respondFunc func(n int, w http.ResponseWriter, r *http.Request) (int, string)

// newReceiver starts a receiver answering with respond.
func newReceiver(t *testing.T, respond respondFunc) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, received{Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		status, reply := respond(n, w, r)
		rc.mu.Lock()
		rc.reqs[n].Status = status
		rc.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// answer always replies status with an empty body.
func answer(status int) respondFunc {
	return func(int, http.ResponseWriter, *http.Request) (int, string) { return status, "" }
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]received, len(rc.reqs))
	copy(out, rc.reqs)
	return out
}

// ok2xx counts the requests per webhook-id answered with a 2xx.
func (rc *receiver) ok2xx() map[string]int {
	m := map[string]int{}
	for _, r := range rc.requests() {
		if r.Status >= 200 && r.Status < 300 {
			m[r.id()]++
		}
	}
	return m
}

// url returns the receiver's URL with path.
func (rc *receiver) url(path string) string { return rc.URL + "/" + strings.TrimPrefix(path, "/") }
