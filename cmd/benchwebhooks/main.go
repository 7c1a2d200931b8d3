// Command benchwebhooks measures outbound webhooks end to end on a scratch
// database: payments-like transactions publish order.paid events, River workers
// deliver them to a receiver on 127.0.0.1, and the receiver notes when each
// webhook-id first arrives.
//
// Phases, after a warm-up:
//
//  1. Backlog: with the queue paused, publish -events events as fast as the
//     publishers can (webhook_publish_per_s), then resume and time the drain:
//     webhook_deliveries_per_s is the delivery capacity.
//  2. Together: publish -events more while the workers deliver, both on the
//     same two cores (webhook_end_to_end_per_s, first publish → last arrival).
//  3. Steady: -rate events per second for -lag-for; webhook_lag_p50_ms and
//     webhook_lag_p99_ms measure commit → receiver.
//
// Before the phases, pgbench's TPC-B (8 clients, -pgbench long) runs on the
// same server as the yardstick: webhooks_pgbench_tpcb_tps, and
// webhooks_vs_pgbench_tpcb, webhook_end_to_end_per_s over it.
//
// Results are `bench <name> <value> <unit>` lines on stdout; progress goes to
// stderr. DATABASE_URL names the server
// (default postgres://postgres@127.0.0.1:5432/postgres); the scratch database is
// dropped at the end.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/migrations"
	"github.com/civicpay/civicpay/webhooks"
)

type options struct {
	events     int           // throughput phase
	rate       int           // lag phase, events per second
	lagFor     time.Duration // lag phase length
	publishers int           // concurrent publishing transactions
	workers    int           // River MaxWorkers on the webhooks queue
	cooldown   time.Duration // River FetchCooldown
	poll       time.Duration // River FetchPollInterval
	conns      int32         // pool size
	yard       time.Duration // pgbench TPC-B yardstick (0: skip)
}

func main() {
	var o options
	flag.IntVar(&o.events, "events", 20000, "events in the throughput phase")
	flag.IntVar(&o.rate, "rate", 500, "events per second in the lag phase")
	flag.DurationVar(&o.lagFor, "lag-for", 20*time.Second, "length of the lag phase")
	flag.IntVar(&o.publishers, "publishers", 8, "concurrent publishing transactions")
	flag.IntVar(&o.workers, "workers", 100, "River MaxWorkers for the webhooks queue")
	flag.DurationVar(&o.cooldown, "fetch-cooldown", 5*time.Millisecond, "River FetchCooldown")
	flag.DurationVar(&o.poll, "fetch-poll", 50*time.Millisecond, "River FetchPollInterval")
	flag.DurationVar(&o.yard, "pgbench", 5*time.Second, "pgbench TPC-B yardstick duration (0: skip)")
	var conns int
	flag.IntVar(&conns, "conns", 48, "PostgreSQL pool size")
	flag.Parse()
	o.conns = int32(conns)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchwebhooks:", err)
		os.Exit(1)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchwebhooks: "+format+"\n", args...)
}

func run(ctx context.Context, o options) error {
	serverURL := os.Getenv("DATABASE_URL")
	if serverURL == "" {
		serverURL = "postgres://postgres@127.0.0.1:5432/postgres"
	}
	dbURL, drop, err := scratchDatabase(ctx, serverURL)
	if err != nil {
		return err
	}
	defer drop()

	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := db.Open(ctx, dbURL, db.Options{MaxConns: o.conns})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool, quiet); err != nil {
		return err
	}
	var y benchutil.TPCB
	if o.yard > 0 {
		s, err := benchutil.ScratchAt(dbURL)
		if err != nil {
			return err
		}
		if y, err = benchutil.Yardstick(ctx, s, o.yard); err != nil {
			return err
		}
	}

	recv, err := startReceiver()
	if err != nil {
		return err
	}
	defer recv.srv.Close()

	cfg := config.Defaults(dbURL).WebhooksConfig() // the service's defaults, but:
	cfg.AllowLoopback, cfg.Logger = true, quiet
	workers := river.NewWorkers()
	river.AddWorker(workers, webhooks.NewDeliveryWorker(pool, cfg))
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{webhooks.Queue: {MaxWorkers: o.workers}},
		FetchCooldown:     o.cooldown,
		FetchPollInterval: o.poll,
		Logger:            quiet,
	})
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	if err := subscribe(ctx, pool, client, cfg, recv.url); err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	}()
	progress("river: queue %q MaxWorkers=%d FetchCooldown=%s FetchPollInterval=%s; pool MaxConns=%d",
		webhooks.Queue, o.workers, o.cooldown, o.poll, o.conns)

	pub := webhooks.NewPublisher(client, cfg)
	b := &bench{pool: pool, pub: pub, recv: recv, publishers: o.publishers}

	progress("warm-up: 500 events")
	if _, err := b.burst(ctx, 500, nil); err != nil {
		return err
	}

	progress("backlog: %d events published by %d transactions at a time with the queue paused, then drained", o.events, o.publishers)
	backlog, err := b.burst(ctx, o.events, client)
	if err != nil {
		return err
	}
	fmt.Printf("bench webhook_deliveries_per_s %.0f 1/s\n", backlog.deliveredPerS)
	fmt.Printf("bench webhook_publish_per_s %.0f 1/s\n", backlog.publishedPerS)

	progress("together: %d events published while the workers deliver", o.events)
	together, err := b.burst(ctx, o.events, nil)
	if err != nil {
		return err
	}
	fmt.Printf("bench webhook_end_to_end_per_s %.0f 1/s\n", together.deliveredPerS)

	progress("lag: %d events/s for %s", o.rate, o.lagFor)
	lag, err := b.steady(ctx, o.rate, o.lagFor)
	if err != nil {
		return err
	}
	fmt.Printf("bench webhook_lag_p50_ms %.1f ms\n", lag.p50)
	fmt.Printf("bench webhook_lag_p99_ms %.1f ms\n", lag.p99)
	fmt.Printf("bench webhook_lag_max_ms %.1f ms\n", lag.max)
	fmt.Printf("bench webhook_lag_load_events_per_s %.0f 1/s\n", lag.achievedRate)
	fmt.Printf("bench webhook_duplicate_deliveries %d count\n", recv.duplicates.Load())
	if o.yard > 0 {
		y.Lines("webhooks", together.deliveredPerS)
	}
	return nil
}

// scratchDatabase creates a database for the run and returns its URL and a
// function dropping it.
func scratchDatabase(ctx context.Context, serverURL string) (string, func(), error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "civicpay_bench_webhooks_" + hex.EncodeToString(suffix)
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to the server: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create scratch database: %w", err)
	}
	progress("scratch database %s", name)
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(context.Background(), serverURL)
		if err != nil {
			progress("drop %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			progress("drop %s: %v", name, err)
		}
	}
	return u.String(), drop, nil
}

// subscribe makes an agency, its key, and its endpoint at the receiver.
func subscribe(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], cfg webhooks.Config, receiverURL string) error {
	if _, err := pool.Exec(ctx, `INSERT INTO agencies (code, name, treasury_account) VALUES ('BENCH', 'Bench agency', 'T-1')`); err != nil {
		return fmt.Errorf("agency: %w", err)
	}
	keys := auth.NewStore(pool)
	_, secret, err := keys.Create(audit.System(ctx, "benchwebhooks"), auth.RoleAgency, "BENCH", "bench")
	if err != nil {
		return err
	}
	p, err := keys.Authenticate(ctx, secret)
	if err != nil {
		return err
	}
	_, err = webhooks.NewService(pool, client, cfg).CreateEndpoint(ctx, p, webhooks.EndpointInput{
		URL: receiverURL, Events: []string{webhooks.EventOrderPaid}, Description: "bench receiver"})
	return err
}

// receiver notes when each webhook-id first arrives.
type receiver struct {
	srv        *http.Server
	url        string
	mu         sync.Mutex
	first      map[string]time.Time
	want       int
	done       chan struct{}
	duplicates atomic.Int64
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/webhooks", first: map[string]time.Time{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	var body json.RawMessage
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := req.Header.Get(webhooks.HeaderID)
	r.mu.Lock()
	if _, seen := r.first[id]; seen {
		r.duplicates.Add(1)
	} else {
		r.first[id] = now
		if len(r.first) == r.want {
			close(r.done)
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// expect resets the receiver to wait for n new ids.
func (r *receiver) expect(n int) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.first = map[string]time.Time{}
	r.want = n
	r.done = make(chan struct{})
	return r.done
}

func (r *receiver) arrivals() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

type bench struct {
	pool       *pgxpool.Pool
	pub        *webhooks.Publisher
	recv       *receiver
	publishers int
}

// publish commits one order.paid event and returns its id and commit time.
func (b *bench) publish(ctx context.Context, i int) (string, time.Time, error) {
	data, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("order-%d", i), "status": "paid", "total": "150000", "currency": "VND"})
	var id string
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var err error
		id, err = b.pub.Publish(ctx, tx, webhooks.Event{Type: webhooks.EventOrderPaid, AgencyCode: "BENCH",
			Subject: fmt.Sprintf("order-%d", i), Data: data})
		return err
	})
	return id, time.Now(), err
}

type throughput struct{ deliveredPerS, publishedPerS float64 }

// burst publishes n events as fast as the publishers can and waits for all.
// With paused set, the queue is paused while publishing and the delivery rate
// is timed from its resumption; otherwise from the first publish.
func (b *bench) burst(ctx context.Context, n int, paused *river.Client[pgx.Tx]) (throughput, error) {
	done := b.recv.expect(n)
	if paused != nil {
		if err := paused.QueuePause(ctx, webhooks.Queue, nil); err != nil {
			return throughput{}, fmt.Errorf("pause queue: %w", err)
		}
	}
	start := time.Now()
	var next atomic.Int64
	errs := make(chan error, b.publishers)
	var wg sync.WaitGroup
	for range b.publishers {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				if _, _, err := b.publish(ctx, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	published := time.Since(start)
	select {
	case err := <-errs:
		return throughput{}, err
	default:
	}
	from := start
	if paused != nil {
		from = time.Now()
		if err := paused.QueueResume(ctx, webhooks.Queue, nil); err != nil {
			return throughput{}, fmt.Errorf("resume queue: %w", err)
		}
	}
	if err := b.wait(ctx, done, n); err != nil {
		return throughput{}, err
	}
	// Count only what arrived in the timed window (a producer may take a moment
	// to notice the pause).
	var last time.Time
	counted := 0
	for _, t := range b.recv.arrivals() {
		if t.Before(from) {
			continue
		}
		counted++
		if t.After(last) {
			last = t
		}
	}
	return throughput{
		deliveredPerS: float64(counted) / last.Sub(from).Seconds(),
		publishedPerS: float64(n) / published.Seconds(),
	}, nil
}

// wait reports progress until the receiver has every id.
func (b *bench) wait(ctx context.Context, done <-chan struct{}, n int) error {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case <-done:
			return nil
		case <-tick.C:
			b.recv.mu.Lock()
			got := len(b.recv.first)
			b.recv.mu.Unlock()
			progress("  delivered %d/%d", got, n)
		case <-timeout:
			return errors.New("deliveries did not finish within 2 minutes")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type lagResult struct{ p50, p99, max, achievedRate float64 }

// steady publishes rate events per second for d (each due at its own instant,
// spread over the publishers) and measures commit → arrival for each.
func (b *bench) steady(ctx context.Context, rate int, d time.Duration) (lagResult, error) {
	n := int(d.Seconds() * float64(rate))
	done := b.recv.expect(n)
	interval := time.Second / time.Duration(rate)
	var mu sync.Mutex
	committed := make(map[string]time.Time, n)
	due := make(chan int)
	errs := make(chan error, b.publishers)
	var wg sync.WaitGroup
	for range b.publishers {
		wg.Go(func() {
			for i := range due {
				id, at, err := b.publish(ctx, i)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				committed[id] = at
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		select {
		case due <- i:
		case err := <-errs:
			close(due)
			return lagResult{}, err
		}
	}
	close(due)
	wg.Wait()
	achieved := float64(n) / time.Since(start).Seconds()
	if err := b.wait(ctx, done, n); err != nil {
		return lagResult{}, err
	}
	arrived := b.recv.arrivals()
	lags := make([]float64, 0, n)
	for id, at := range committed {
		lags = append(lags, max(0, float64(arrived[id].Sub(at).Microseconds())/1000))
	}
	slices.Sort(lags)
	pct := func(p float64) float64 { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
	return lagResult{p50: pct(0.50), p99: pct(0.99), max: lags[len(lags)-1], achievedRate: achieved}, nil
}
