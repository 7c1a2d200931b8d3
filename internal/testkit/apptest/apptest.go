// Package apptest starts a whole civicpay — the real composition root on a fresh
// migrated database, serving HTTP on a loopback port — for end-to-end tests, with
// a small catalogue and one API key per role.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/client"
	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apicheck"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// Env is a running civicpay for one test.
type Env struct {
	App  *app.App
	Pool *pgxpool.Pool
	// URL is where the app listens; MetricsURL where its /metrics listener does.
	URL, MetricsURL string
	// Keys by role; AgencyA is bound to agency "AG-A", AgencyB to "AG-B".
	// AdminTreasury is an admin key also given treasury (it may move money).
	Admin, Portal, Portal2, AgencyA, AgencyB, Treasury, AdminTreasury string
	// Sim is the in-process gateway simulator of NewWithSim (nil otherwise),
	// serving at SimURL and calling back to URL.
	Sim    *gatewaysim.Sim
	SimURL string

	cfg config.Config
	run *running
	// quiet: River is not started (see NewQuiet).
	quiet bool
}

// running is one started app: how to stop it, its result, its logs.
type running struct {
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
	stopped bool
	err     error
	logs    *logBuffer
}

// Option adjusts the configuration before the app is built.
type Option func(*config.Config)

// New starts civicpay for t and stops it when t ends. No gateway is enabled.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	pool, url := pgtest.NewWithURL(t)
	ln := listen(t)
	e := &Env{Pool: pool, cfg: baseConfig(url)}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start(t, ln)
	e.seed(t)
	return e
}

// NewWithPool is New with the app on the pool open makes for the fresh
// database's URL: a pool through a pgtest.Proxy, to take the database away
// from a running civicpay. Seeding and e.Pool use that pool too.
func NewWithPool(t testing.TB, open func(t testing.TB, dbURL string) *pgxpool.Pool, opts ...Option) *Env {
	t.Helper()
	_, url := pgtest.NewWithURL(t)
	ln := listen(t)
	e := &Env{Pool: open(t, url), cfg: baseConfig(url)}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start(t, ln)
	e.seed(t)
	return e
}

// NewReplicated is New on a private primary with a streaming replica
// (pgtest.NewReplicated), the app given the replica as DATABASE_READ_URL.
// It returns the pair too, to pause the replica's replay.
func NewReplicated(t testing.TB, opts ...Option) (*Env, pgtest.Replicated) {
	t.Helper()
	r := pgtest.NewReplicated(t)
	ln := listen(t)
	e := &Env{Pool: r.Primary, cfg: baseConfig(r.PrimaryURL)}
	e.cfg.DatabaseReadURL = r.ReplicaURL
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start(t, ln)
	e.seed(t)
	return e, r
}

// NewQuiet is New with River not started: jobs are inserted but never run,
// no periodic job is scheduled, so every write to the database is one a
// request made. Tests that prove a refused request writes nothing use it.
func NewQuiet(t testing.TB, opts ...Option) *Env {
	t.Helper()
	pool, url := pgtest.NewWithURL(t)
	ln := listen(t)
	e := &Env{Pool: pool, cfg: baseConfig(url), quiet: true}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start(t, ln)
	e.seed(t)
	return e
}

// NewWithSim is New with every gateway (VNPAY, MoMo, ZaloPay, VietQR) pointed
// at an in-process gatewaysim running its demo merchant on a loopback port and
// calling back to this civicpay. Control the simulator with e.Sim (Pay,
// SetFaults) or over HTTP at e.SimURL. opts apply after the gateway settings.
// The simulator reads the app's clock (WithClock), as real gateways and
// civicpay agree on the day.
func NewWithSim(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return NewWithSimHandler(t, nil, opts...)
}

// NewWithSimHandler is NewWithSim with the simulator's HTTP handler wrapped
// by wrap (nil: not wrapped), for tests that watch, count or hold back what
// civicpay sends the gateways.
func NewWithSimHandler(t testing.TB, wrap func(http.Handler) http.Handler, opts ...Option) *Env {
	t.Helper()
	return newWithSim(t, wrap, nil, opts...)
}

// NewWithSimRecon is NewWithSim on clk (clock.NewRunning: the test moves
// the day by setting it) reconciling gateways and the bank from what the
// simulator publishes: settlement files and camt.053 statements fetched when
// asked (no cut-off), the defaults' fees (gatewaysim's demo fees), one
// settlement day, two workers. The status job waits an hour, so that a
// payment whose callback is lost is reconciliation's to find. opts apply
// after.
func NewWithSimRecon(t testing.TB, clk clock.Clock, gateways []string, opts ...Option) *Env {
	t.Helper()
	recon := func(simURL string) Option {
		return func(c *config.Config) {
			c.Paying.StatusPollDelay, c.Paying.StatusPollMax = time.Hour, time.Hour
			r := &c.Recon
			r.Cutoff, r.SettlementURL = "off", simURL+"/admin/settlements/{gateway}/{date}"
			r.StatementURL, r.Gateways = simURL+"/bank/statements/camt053/{date}", gateways
			r.Fees, r.SettlementDays, r.Workers = config.Defaults("").Recon.Fees, 1, 2
		}
	}
	return newWithSim(t, nil, recon, append([]Option{WithClock(clk)}, opts...)...)
}

// newWithSim starts the simulator and the app; simOpt (nil: none) is an
// option that needs the simulator's URL, applied before opts.
func newWithSim(t testing.TB, wrap func(http.Handler) http.Handler, simOpt func(simURL string) Option, opts ...Option) *Env {
	t.Helper()
	pool, url := pgtest.NewWithURL(t)
	ln := listen(t)
	e := &Env{Pool: pool, cfg: baseConfig(url)}
	simCfg := gatewaysim.DemoConfig("http://" + ln.Addr().String())
	simCfg.Now = func() time.Time { return clock.Or(e.cfg.Clock).Now() }
	sim, err := gatewaysim.New(simCfg)
	if err != nil {
		t.Fatalf("apptest: gatewaysim: %v", err)
	}
	h := sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	e.Sim, e.SimURL = sim, srv.URL
	SimGateways(srv.URL)(&e.cfg)
	if simOpt != nil {
		simOpt(srv.URL)(&e.cfg)
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	e.start(t, ln)
	t.Cleanup(func() { // runs before the app stops: no callback is left going to it
		_ = sim.Close()
		srv.Close()
	})
	e.seed(t)
	return e
}

// SimGateways points every gateway at a gatewaysim at simURL with its demo
// credentials, with refunds retried quickly and the status job's first
// query a minute out (tests that need it sooner say so).
func SimGateways(simURL string) Option {
	return func(c *config.Config) {
		c.Paying = config.DemoPaying(simURL)
		c.Paying.GatewayTimeout = 5 * time.Second
		c.Paying.RefundRetry, c.Paying.RefundRetryMax, c.Paying.RefundMaxTries = 200*time.Millisecond, time.Second, 5
		c.Paying.Workers = 10
	}
}

// WithClock runs the app (and NewWithSim's simulator) on c instead of the wall
// clock: a test sets the business time (clock.NewRunning to let it move on
// from there) and advances it past an expiry or a day's end instead of
// waiting.
func WithClock(c clock.Clock) Option {
	return func(cfg *config.Config) { cfg.Clock = c }
}

// Another starts a second civicpay on e's database (as a second `serve`
// process would be), with e's configuration (opts applied on top) and its
// own River client and HTTP port, stopped when t ends. It shares e's keys
// and simulator.
func (e *Env) Another(t testing.TB, opts ...Option) *Env {
	t.Helper()
	other := *e
	for _, o := range opts {
		o(&other.cfg)
	}
	other.start(t, listen(t))
	return &other
}

// baseConfig is the service's defaults (config.Defaults, development) with
// what the tests change: no gateway, no statement fetch and no fee check
// unless an option sets them, no rate limit, connection cap, open-attempt
// cap, key expiry or key caching, shorter waits, random data keys, and the
// listener's public URL (start).
func baseConfig(databaseURL string) config.Config {
	c := config.Defaults(databaseURL)
	c.Addr, c.PublicURL, c.LogLevel, c.DBMaxConns = "127.0.0.1:0", "", "warn", 20
	c.ShutdownGrace, c.JobsStopTimeout, c.ExpiryInterval, c.RiverWorkers = 5*time.Second, 5*time.Second, time.Hour, 10
	c.AuthCacheTTL, c.KeyDefaultTTL = 0, 0
	c.DataKeys, c.LookupKey = "test:"+secretbox.GenerateKey(), secretbox.GenerateKey()
	c.Paying.Gateways = nil
	c.Recon.SettlementURL, c.Recon.StatementURL, c.Recon.Fees = "", "", ""
	c.Limits = c.Limits.Unlimited()
	c.Limits.MaxOpenAttempts, c.Limits.AuthFailCacheTTL = 0, 0
	return c
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// DataKeys is the keyring the app seals national IDs and webhook secrets with
// (random keys per Env), for tests that read the database.
func (e *Env) DataKeys(t testing.TB) *secretbox.Keyring {
	t.Helper()
	k, err := secretbox.Parse(e.cfg.DataKeys, e.cfg.DataKeyID, e.cfg.LookupKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// start builds the app on e.Pool with e.cfg and serves it on ln (and its
// metrics on another loopback port) until t ends. The public URL is ln's
// unless an option set one.
func (e *Env) start(t testing.TB, ln net.Listener) {
	t.Helper()
	cfg := e.cfg
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	metricsLn := listen(t)
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(os.Stderr, logs), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, e.Pool, log)
	if err != nil {
		cancel()
		t.Fatalf("apptest: build app: %v", err)
	}
	r := &running{cancel: cancel, done: make(chan error, 1), logs: logs}
	if e.quiet {
		go func() { r.done <- a.HTTP.Listener(ln) }()
		go func() {
			<-ctx.Done()
			_ = a.HTTP.ShutdownWithTimeout(cfg.ShutdownGrace)
			_ = metricsLn.Close()
			a.CloseWriters() // Run is not called, so its last step is done here
		}()
	} else {
		go func() { r.done <- a.Run(ctx, ln, metricsLn) }()
	}
	t.Cleanup(func() {
		if stopped, _ := r.stop(20 * time.Second); !stopped {
			t.Error("apptest: app did not stop within 20s")
		}
	})
	e.App, e.run, e.URL, e.MetricsURL = a, r, "http://"+ln.Addr().String(), "http://"+metricsLn.Addr().String()
}

// stop cancels the app's context, as SIGTERM does, and waits up to d for Run
// to return; stopped is false if it did not.
func (r *running) stop(d time.Duration) (stopped bool, err error) {
	r.cancel()
	r.once.Do(func() {
		select {
		case r.err = <-r.done:
			r.stopped = true
		case <-time.After(d):
		}
	})
	return r.stopped, r.err
}

// Stop shuts the app down as SIGTERM does (its context is cancelled) and
// returns what Run returned; the test fails if Run has not returned within
// 30 s. Stopping twice returns the first result. It may be called from any
// goroutine.
func (e *Env) Stop(t testing.TB) error {
	t.Helper()
	stopped, err := e.run.stop(30 * time.Second)
	if !stopped {
		t.Error("apptest: app did not stop within 30s")
		return errors.New("apptest: app did not stop")
	}
	return err
}

// Logs are the app's log records at warn and above so far, decoded.
func (e *Env) Logs(t testing.TB) []map[string]any {
	t.Helper()
	return e.run.logs.records(t)
}

// logBuffer keeps the JSON log lines written to it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) records(t testing.TB) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("apptest: log line: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// Metrics scrapes the app's /metrics listener.
func (e *Env) Metrics(t testing.TB) Response {
	t.Helper()
	return e.get(t, e.MetricsURL+"/metrics")
}

func (e *Env) seed(t testing.TB) {
	t.Helper()
	ctx := audit.System(context.Background(), "apptest") // the fixtures' own audit rows
	cat := catalogue.NewStore(e.Pool)
	for _, a := range []catalogue.Agency{
		{Code: "AG-A", Name: "Agency A", TreasuryAccount: "TA-A"},
		{Code: "AG-B", Name: "Agency B", TreasuryAccount: "TA-B"},
	} {
		if _, err := cat.UpsertAgency(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	fixed, lo, hi := decimal.NewFromInt(200000), decimal.NewFromInt(1000), decimal.NewFromInt(5000000)
	for _, s := range []catalogue.Service{
		{Code: "A-FEE", AgencyCode: "AG-A", Name: "A fee", Kind: catalogue.KindFee, FixedAmount: &fixed, Active: true},
		{Code: "A-FINE", AgencyCode: "AG-A", Name: "A fine", Kind: catalogue.KindFine, MinAmount: &lo, MaxAmount: &hi, Active: true},
		{Code: "B-CHARGE", AgencyCode: "AG-B", Name: "B charge", Kind: catalogue.KindCharge, MinAmount: &lo, MaxAmount: &hi, Active: true},
	} {
		if _, err := cat.UpsertService(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	keys := auth.NewStore(e.Pool)
	mk := func(role auth.Role, agency string) string {
		_, secret, err := keys.Create(ctx, role, agency, "test "+string(role))
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	e.Admin, e.Portal, e.Portal2 = mk(auth.RoleAdmin, ""), mk(auth.RolePortal, ""), mk(auth.RolePortal, "")
	e.AgencyA, e.AgencyB, e.Treasury = mk(auth.RoleAgency, "AG-A"), mk(auth.RoleAgency, "AG-B"), mk(auth.RoleTreasury, "")
	_, secret, err := keys.CreateKey(ctx, auth.NewKey{Role: auth.RoleAdmin, Also: []auth.Role{auth.RoleTreasury}, Name: "test admin+treasury"})
	if err != nil {
		t.Fatal(err)
	}
	e.AdminTreasury = secret
}

// Response is a finished request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d response %s: %v", r.Status, r.Body, err)
	}
}

// Do sends a request with key as bearer token, and fails t (t.Errorf) if the
// response does not match the OpenAPI document (see apicheck). body may be nil, []byte, string or
// a value to marshal; headers are name/value pairs.
func (e *Env) Do(t testing.TB, method, path, key string, body any, headers ...string) Response {
	t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rdr = bytes.NewReader(b)
	case string:
		rdr = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rdr = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rdr != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(t, req)
}

func (e *Env) get(t testing.TB, url string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.send(t, req)
}

func (e *Env) send(t testing.TB, req *http.Request) Response {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(req.URL.String(), e.MetricsURL) {
		apicheck.Check(t, req, res.StatusCode, res.Header, raw)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// Client is the generated API client (package client) for e with key as
// bearer token. Every response it receives is held against the OpenAPI
// document, as Do's are (t.Errorf on a mismatch).
func (e *Env) Client(t testing.TB, key string) *client.ClientWithResponses {
	t.Helper()
	c, err := client.NewClientWithResponses(e.URL, client.WithHTTPClient(checkingDoer{t: t}),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			if key != "" {
				req.Header.Set("Authorization", "Bearer "+key)
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkingDoer sends a request and checks its response against the document.
type checkingDoer struct{ t testing.TB }

func (d checkingDoer) Do(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response to %s %s: %w", req.Method, req.URL.Path, err)
	}
	apicheck.Check(d.t, req, res.StatusCode, res.Header, raw)
	res.Body = io.NopCloser(bytes.NewReader(raw))
	return res, nil
}
