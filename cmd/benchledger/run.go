package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/migrations"
)

// Shape of the traffic.
const (
	spreadAccounts = 1000                   // gateways' clearing accounts in spread traffic
	agencies       = 1000                   // agencies credited, in both kinds of traffic
	warmUp         = 200 * time.Millisecond // per measured slice
)

func run(ctx context.Context, phase, yard time.Duration) error {
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		// Loopback without TLS, as the service talks to a PostgreSQL beside it.
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	dbURL, drop, err := scratchDatabase(ctx, base)
	if err != nil {
		return err
	}
	defer drop()
	pool, err := db.Open(ctx, dbURL, db.Options{MaxConns: 48})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return err
	}
	var y benchutil.TPCB
	if yard > 0 {
		s, err := benchutil.ScratchAt(dbURL)
		if err != nil {
			return err
		}
		if y, err = benchutil.Yardstick(ctx, s, yard); err != nil {
			return err
		}
	}
	if err := createAccounts(ctx, pool); err != nil {
		return err
	}
	stop := maintain(ctx, pool)

	var keys atomic.Int64
	post := func(hot, inTx bool) func(context.Context, *mrand.Rand) error {
		return func(ctx context.Context, rng *mrand.Rand) error {
			p := payment(rng, keys.Add(1), hot)
			if !inTx { // one statement, its own transaction, as the HTTP handler posts
				_, err := ledger.PostPayment(ctx, pool, p)
				return err
			}
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { // BEGIN, post, COMMIT: as the payment flow posts
				_, err := ledger.PostPayment(ctx, tx, p)
				return err
			})
		}
	}
	best := map[string]float64{}
	for _, c := range []int{1, 8, 32} {
		loads := []load{{"spread", post(false, false)}, {"hot", post(true, false)}}
		if c == 32 {
			loads = append(loads, load{"spread_in_tx", post(false, true)})
		}
		rates, err := compare(ctx, c, phase, loads)
		if err != nil {
			return fmt.Errorf("concurrency %d: %w", c, err)
		}
		for i, l := range loads {
			progress("%s traffic, concurrency %d: %.0f entries/s", l.name, c, rates[i])
			bench(fmt.Sprintf("ledger_%s_c%d_entries_per_s", l.name, c), rates[i], "1/s")
			best[l.name] = max(best[l.name], rates[i])
		}
	}
	httpRate, err := measureHTTP(ctx, pool, phase)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	progress("over HTTP: %.0f entries/s", httpRate)
	if err := stop(); err != nil {
		return fmt.Errorf("sealing and snapshots: %w", err)
	}
	readMS, err := hotBalanceRead(ctx, pool)
	if err != nil {
		return err
	}
	verifySeconds, err := verify(ctx, pool)
	if err != nil {
		return err
	}
	bench("ledger_entries_per_s", best["spread"], "1/s")
	bench("ledger_hot_entries_per_s", best["hot"], "1/s")
	bench("ledger_hot_vs_spread", best["hot"]/best["spread"], "ratio")
	bench("ledger_http_entries_per_s", httpRate, "1/s")
	bench("ledger_hot_balance_read_ms", readMS, "ms")
	bench("ledger_verify_s", verifySeconds, "s")
	if yard > 0 {
		y.Lines("ledger", best["spread"])
	}
	return nil
}

// payment is a one-share payment of a random agency's service, through one of
// the spread gateways or through the hot one.
func payment(rng *mrand.Rand, n int64, hot bool) ledger.Payment {
	gateway := "hot"
	if !hot {
		gateway = "g" + strconv.Itoa(rng.IntN(spreadAccounts))
	}
	agency := rng.IntN(agencies)
	return ledger.Payment{
		Key: "bench:" + strconv.FormatInt(n, 10), OrderID: uuid.New(), AttemptID: uuid.New(),
		Gateway: gateway, Channel: "card", Currency: "VND", EffectiveAt: time.Now(),
		Shares: []ledger.Share{{AgencyCode: "A" + strconv.Itoa(agency), ServiceCode: "SVC-" + strconv.Itoa(agency%50),
			Amount: decimal.NewFromInt(10000 + rng.Int64N(1_000_000))}},
	}
}

// createAccounts makes every account the traffic uses, so the phases measure
// posting and not account creation.
func createAccounts(ctx context.Context, pool *pgxpool.Pool) error {
	for i := range spreadAccounts {
		p := ledger.Payment{Key: "warm:" + strconv.Itoa(i), OrderID: uuid.New(), AttemptID: uuid.New(),
			Gateway: "g" + strconv.Itoa(i), Channel: "card", Currency: "VND", EffectiveAt: time.Now(),
			Shares: []ledger.Share{{AgencyCode: "A" + strconv.Itoa(i%agencies), ServiceCode: "SVC-1", Amount: decimal.NewFromInt(1000)}}}
		if i == 0 {
			p.Gateway = "hot"
		}
		if _, err := ledger.PostPayment(ctx, pool, p); err != nil {
			return fmt.Errorf("create accounts: %w", err)
		}
	}
	return nil
}

// load is one kind of traffic: op posts one entry.
type load struct {
	name string
	op   func(context.Context, *mrand.Rand) error
}

// compare measures each load at concurrency c for d in all, in alternating
// slices (A B B A …), so a change in the machine's background load falls on
// every load alike; it returns each load's entries per second.
func compare(ctx context.Context, c int, d time.Duration, loads []load) ([]float64, error) {
	const slices = 4
	done := make([]int64, len(loads))
	spent := make([]time.Duration, len(loads))
	for s := range slices {
		for k := range loads {
			i := k
			if s%2 == 1 {
				i = len(loads) - 1 - k
			}
			n, took, err := measure(ctx, c, d/slices, loads[i].op)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", loads[i].name, err)
			}
			done[i] += n
			spent[i] += took
		}
	}
	rates := make([]float64, len(loads))
	for i := range loads {
		rates[i] = float64(done[i]) / spent[i].Seconds()
	}
	return rates, nil
}

// measure runs op from c goroutines for warmUp plus d and returns how many
// ops succeeded after the warm-up and in how long.
func measure(ctx context.Context, c int, d time.Duration, op func(context.Context, *mrand.Rand) error) (int64, time.Duration, error) {
	var done atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	end := time.Now().Add(warmUp + d)
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for time.Now().Before(end) && failed.Load() == nil {
				if err := op(ctx, rng); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				done.Add(1)
			}
		}()
	}
	time.Sleep(warmUp)
	start, before := time.Now(), done.Load()
	wg.Wait()
	if err := failed.Load(); err != nil {
		return 0, 0, *err
	}
	return done.Load() - before, time.Since(start), nil
}

// maintain seals and snapshots every second until the returned stop is called.
func maintain(ctx context.Context, pool *pgxpool.Pool) (stop func() error) {
	quit := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				result <- nil
				return
			case <-tick.C:
			}
			if _, err := ledger.Seal(ctx, pool); err != nil {
				result <- err
				return
			}
			if _, err := ledger.SnapshotBalances(ctx, pool); err != nil {
				result <- err
				return
			}
			if _, err := ledger.RollUp(ctx, pool); err != nil {
				result <- err
				return
			}
		}
	}()
	return func() error {
		close(quit)
		return <-result
	}
}

// hotBalanceRead times a current-balance read of the hot account after a
// final snapshot.
func hotBalanceRead(ctx context.Context, pool *pgxpool.Pool) (float64, error) {
	if _, err := ledger.SnapshotBalances(ctx, pool); err != nil {
		return 0, err
	}
	start := time.Now()
	const reads = 20
	for range reads {
		if _, err := ledger.AccountBalance(ctx, pool, ledger.GatewayClearing("hot"), time.Time{}); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Microseconds()) / 1000 / reads, nil
}

// verify seals everything and proves the books; it returns how long Verify took.
func verify(ctx context.Context, pool *pgxpool.Pool) (float64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := ledger.Seal(ctx, pool)
		if err != nil {
			return 0, err
		}
		if res.Entries == 0 || time.Now().After(deadline) {
			break
		}
	}
	start := time.Now()
	report, err := ledger.Verify(ctx, pool)
	if err != nil {
		return 0, err
	}
	progress("verified %d entries, %d postings, %d sealed in %d batches", report.Entries, report.Postings, report.SealedEntries, report.SealedBatches)
	return time.Since(start).Seconds(), nil
}

// scratchDatabase creates an empty database on the server at base and returns
// its URL and a function that drops it.
func scratchDatabase(ctx context.Context, base string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect: %w", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "civicpay_bench_ledger_" + hex.EncodeToString(suffix)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			progress("drop %s: %v", name, err)
		}
		admin.Close(dctx)
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}
