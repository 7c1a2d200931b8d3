// Command benchorders measures order creation over real HTTP against pgbench's
// single-row INSERT on the same server, in one run:
//
//	bench order_create_per_s <n> 1/s
//	bench order_create_p50_ms <n> ms
//	bench order_create_p99_ms <n> ms
//	bench pgbench_insert_tps <n> 1/s
//	bench order_create_vs_pgbench_insert <ratio> ratio
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
	"github.com/valyala/fasthttp"

	"github.com/civicpay/civicpay/client"
	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/payments/catalogue"
)

func main() {
	concurrency := flag.Int("c", 32, "concurrent HTTP clients (and pgbench clients)")
	duration := flag.Duration("d", 15*time.Second, "measuring time of each side, split into rounds")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the HTTP phase to this file")
	flag.Parse()
	profile = *cpuprofile
	if err := run(*concurrency, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "benchorders:", err)
		os.Exit(1)
	}
}

var profile string

// rounds is how many times the measurement alternates between civicpay and pgbench.
const rounds = 3

func run(concurrency int, d time.Duration) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := benchutil.NewScratch(ctx, "orders", 40)
	if err != nil {
		return err
	}
	defer s.Drop()

	ctx = audit.System(ctx, "benchorders")
	cat := catalogue.NewStore(s.Pool)
	if _, err := cat.UpsertAgency(ctx, catalogue.Agency{Code: "STP-HCM", Name: "Justice", TreasuryAccount: "KB-1"}); err != nil {
		return err
	}
	fee := decimal.NewFromInt(200000)
	if _, err := cat.UpsertService(ctx, catalogue.Service{Code: "STP-LLTP", AgencyCode: "STP-HCM", Name: "LLTP", Kind: catalogue.KindFee, FixedAmount: &fee, Active: true}); err != nil {
		return err
	}
	_, key, err := auth.NewStore(s.Pool).Create(ctx, auth.RolePortal, "", "bench")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg := config.Defaults(s.URL)
	cfg.PublicURL, cfg.LogLevel, cfg.Recon.Cutoff = "http://"+ln.Addr().String(), "error", "off"
	cfg.Limits = cfg.Limits.Unlimited() // one client address, one key, thousands of requests a second
	cfg.DataKeys, cfg.LookupKey = "bench:"+secretbox.GenerateKey(), secretbox.GenerateKey()
	a, err := app.New(ctx, cfg, s.Pool, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	go func() { _ = a.Run(ctx, ln, nil) }()

	// The generated API client, sending through fasthttp: its client costs
	// less CPU than net/http's, and the client shares the machine's two cores
	// with the server and PostgreSQL.
	api, err := client.NewClient(cfg.PublicURL, client.WithHTTPClient(benchutil.FastDoer{Client: &fasthttp.Client{MaxConnsPerHost: concurrency * 2}}),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+key)
			return nil
		}))
	if err != nil {
		return err
	}
	var amount client.Amount
	if err := amount.FromAmount0("200000"); err != nil {
		return err
	}
	nationalID, email := "079203001234", "an@example.vn"
	body := client.CreateOrderJSONRequestBody{
		Lines:       []client.CreateOrderLine{{Service: "STP-LLTP", Agency: "STP-HCM", Amount: amount}},
		Payer:       client.Payer{Name: "Nguyễn Văn An", NationalId: &nationalID, Email: &email},
		Description: "Phiếu lý lịch tư pháp",
	}
	var seq atomic.Int64
	post := func() (time.Duration, error) {
		params := &client.CreateOrderParams{IdempotencyKey: "bench-" + strconv.FormatInt(seq.Add(1), 10)}
		start := time.Now()
		res, err := api.CreateOrder(ctx, params, body)
		if err != nil {
			return 0, err
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return 0, fmt.Errorf("status %d", res.StatusCode)
		}
		return time.Since(start), nil
	}

	benchutil.Progress("warming up (2s, %d clients)", concurrency)
	benchutil.Load(2*time.Second, concurrency, post)
	// The two rates are measured in alternating rounds, so that the machine
	// getting busier or quieter during the run (it is shared) moves both alike.
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		_ = pprof.StartCPUProfile(f)
	}
	var (
		lat             []time.Duration
		errs, inserts   int
		elapsed, pgTime time.Duration
	)
	round := d / rounds
	for r := range rounds {
		benchutil.Progress("round %d/%d: order creation over HTTP (%s, %d clients)", r+1, rounds, round, concurrency)
		l, e, el := benchutil.Load(round, concurrency, post)
		lat, errs, elapsed = append(lat, l...), errs+e, elapsed+el
		benchutil.Progress("round %d/%d: pgbench single-row INSERT (%s, %d clients)", r+1, rounds, round, concurrency)
		tps, err := benchutil.PgbenchInsertTPS(ctx, s, concurrency, round)
		if err != nil {
			return err
		}
		inserts += int(tps * round.Seconds())
		pgTime += round
	}
	if profile != "" {
		pprof.StopCPUProfile()
	}
	rate := float64(len(lat)) / elapsed.Seconds()
	tps := float64(inserts) / pgTime.Seconds()
	benchutil.Line("order_create_per_s", round1(rate), "1/s")
	benchutil.Line("order_create_p50_ms", benchutil.Percentile(lat, 50), "ms")
	benchutil.Line("order_create_p99_ms", benchutil.Percentile(lat, 99), "ms")
	benchutil.Line("order_create_errors", float64(errs), "count")
	benchutil.Line("pgbench_insert_tps", round1(tps), "1/s")
	benchutil.Line("order_create_vs_pgbench_insert", float64(int(rate/tps*1000))/1000, "ratio")
	return nil
}

func round1(f float64) float64 { return float64(int(f*10)) / 10 }
