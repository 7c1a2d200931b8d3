package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/ledger"
)

// httpConcurrency is the number of clients posting at once.
const httpConcurrency = 32

// measureHTTP serves the ledger's routes in process on a loopback port, as
// the server wires them (auth with a key cache), and posts manual entries
// through a pool of keep-alive HTTP clients.
func measureHTTP(ctx context.Context, pool *pgxpool.Pool, d time.Duration) (float64, error) {
	store := auth.NewStore(pool)
	_, secret, err := store.Create(audit.System(ctx, "benchledger"), auth.RoleTreasury, "", "benchledger")
	if err != nil {
		return 0, err
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true,
		ErrorHandler: problem.Handler(slog.New(slog.NewTextHandler(io.Discard, nil)), append(auth.HTTPErrors, ledger.HTTPErrors...)...)})
	v1 := app.Group("/v1", auth.NewAuthenticator(store, time.Minute).Middleware())
	// The service's manual-entry rules, from the configuration's defaults.
	ledger.NewHandler(pool, slog.Default()).WithRules(config.Defaults("").ManualRules()).Routes(v1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	go func() { _ = app.Listener(ln) }()
	defer func() { _ = app.Shutdown() }()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: httpConcurrency, MaxIdleConnsPerHost: httpConcurrency, IdleConnTimeout: time.Minute}}
	endpoint := "http://" + ln.Addr().String() + "/v1/ledger/entries"
	var n atomic.Int64
	rates, err := compare(ctx, httpConcurrency, d, []load{{"http", func(ctx context.Context, rng *mrand.Rand) error {
		amount := strconv.FormatInt(10000+rng.Int64N(1_000_000), 10)
		// Touching no agency account and under the approval amount, the
		// entry posts at once (an agency one would wait for a second key).
		body := fmt.Sprintf(`{"reason":"benchmark","effective_at":%q,"postings":[
			{"account":"gateway:g%d:clearing","direction":"debit","amount":%s,"currency":"VND"},
			{"account":"treasury:T%d:bank","direction":"credit","amount":%s,"currency":"VND"}]}`,
			time.Now().UTC().Format(time.RFC3339Nano), rng.IntN(spreadAccounts), amount, rng.IntN(agencies), amount)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewBufferString(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "http-"+strconv.FormatInt(n.Add(1), 10))
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		reply, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /v1/ledger/entries: %d %s", res.StatusCode, reply)
		}
		return nil
	}}})
	if err != nil {
		return 0, err
	}
	return rates[0], nil
}
