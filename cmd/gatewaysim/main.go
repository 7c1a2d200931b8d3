// Command gatewaysim serves simulated VNPAY, MoMo and ZaloPay gateways and
// the treasury bank over HTTP (package internal/sim/gatewaysim), for the demo,
// tests and benchmarks.
//
//	gatewaysim -addr 127.0.0.1:8090 -callback-base http://127.0.0.1:8080
//	gatewaysim -print-env   # the service's environment for this simulator
//
// Flags take their defaults from the environment:
//
//	-addr                  GATEWAYSIM_ADDR                  listen address (127.0.0.1:8090)
//	-public-url            GATEWAYSIM_PUBLIC_URL            base URL browsers and civicpay use (http://<addr>)
//	-callback-base         GATEWAYSIM_CALLBACK_BASE         civicpay's public URL (else CIVICPAY_PUBLIC_URL):
//	                                                        VNPAY IPNs to <base>/callbacks/vnpay, ZaloPay's
//	                                                        default callback to <base>/callbacks/zalopay
//	-vnpay-ipn-url         GATEWAYSIM_VNPAY_IPN_URL         VNPAY's IPN URL, overriding -callback-base
//	-zalopay-callback-url  GATEWAYSIM_ZALOPAY_CALLBACK_URL  ZaloPay's default callback URL, overriding -callback-base
//	-data-dir              GATEWAYSIM_DATA_DIR              keep the state in <dir> across restarts and crashes: every
//	                                                        change is logged and synced before it is answered
//	-save-every            GATEWAYSIM_SAVE_EVERY            how often to compact the log into <dir>/gatewaysim.json (10s)
//	-callback-timeout      GATEWAYSIM_CALLBACK_TIMEOUT      each callback attempt's deadline (5s)
//	-callback-attempts     GATEWAYSIM_CALLBACK_ATTEMPTS     tries per callback (4)
//	-settlement-lag-days   GATEWAYSIM_SETTLEMENT_LAG_DAYS   days until a settlement reaches the bank (1)
//	-log-level             GATEWAYSIM_LOG_LEVEL             debug, info, warn or error (info)
//
// Credentials default to the demo ones (see internal/sim/gatewaysim) and are
// read from the same CIVICPAY_* variables as the service's, so one
// environment configures both; fees from GATEWAYSIM_<GATEWAY>_FEE_PERCENT
// and _FEE_FIXED. SIGINT or SIGTERM stops it (state compacted with a data dir).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaysim:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	addr, publicURL, callbackBase, vnpayIPN, zalopayCallback, dataDir, logLevel string
	saveEvery, callbackTimeout                                                  time.Duration
	callbackAttempts, lagDays                                                   int
	printEnv                                                                    bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	var errs []error
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		return fromEnv(getenv, name, def, time.ParseDuration, &errs)
	}
	num := func(name string, def int) int { return fromEnv(getenv, name, def, strconv.Atoi, &errs) }
	fs := flag.NewFlagSet("gatewaysim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", env("GATEWAYSIM_ADDR", "127.0.0.1:8090"), "listen address")
	fs.StringVar(&o.publicURL, "public-url", getenv("GATEWAYSIM_PUBLIC_URL"), "base URL browsers and civicpay reach the simulator at (default http://<addr>)")
	fs.StringVar(&o.callbackBase, "callback-base", env("GATEWAYSIM_CALLBACK_BASE", getenv("CIVICPAY_PUBLIC_URL")),
		"civicpay's public URL: VNPAY IPNs go to <base>/callbacks/vnpay, ZaloPay's default callback to <base>/callbacks/zalopay")
	fs.StringVar(&o.vnpayIPN, "vnpay-ipn-url", getenv("GATEWAYSIM_VNPAY_IPN_URL"), "VNPAY's IPN URL (overrides -callback-base)")
	fs.StringVar(&o.zalopayCallback, "zalopay-callback-url", getenv("GATEWAYSIM_ZALOPAY_CALLBACK_URL"),
		"callback URL of ZaloPay orders created without one (overrides -callback-base)")
	fs.StringVar(&o.dataDir, "data-dir", getenv("GATEWAYSIM_DATA_DIR"),
		"keep the state in <dir> across restarts and crashes (every change logged and synced before it is answered)")
	fs.DurationVar(&o.saveEvery, "save-every", dur("GATEWAYSIM_SAVE_EVERY", 10*time.Second),
		"how often to compact the log into <dir>/gatewaysim.json (with -data-dir)")
	fs.DurationVar(&o.callbackTimeout, "callback-timeout", dur("GATEWAYSIM_CALLBACK_TIMEOUT", 5*time.Second), "each callback attempt's deadline")
	fs.IntVar(&o.callbackAttempts, "callback-attempts", num("GATEWAYSIM_CALLBACK_ATTEMPTS", 4), "tries per callback")
	fs.IntVar(&o.lagDays, "settlement-lag-days", num("GATEWAYSIM_SETTLEMENT_LAG_DAYS", gatewaysim.DemoSettlementLagDay),
		"days between a business day and its settlement credit at the bank")
	fs.StringVar(&o.logLevel, "log-level", env("GATEWAYSIM_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.BoolVar(&o.printEnv, "print-env", false, "print the service's environment for this simulator and exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if o.publicURL == "" {
		host := o.addr
		if strings.HasPrefix(host, ":") {
			host = "127.0.0.1" + host
		}
		o.publicURL = "http://" + host
	}
	return o, errors.Join(errs...)
}

// fromEnv parses the variable name, or is def when it is unset; a parse
// error is added to errs.
func fromEnv[T any](getenv func(string) string, name string, def T, parse func(string) (T, error), errs *[]error) T {
	v := getenv(name)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", name, err))
	}
	return x
}

// config builds the simulator's configuration from the options and the
// environment.
func (o options) config(getenv func(string) string, logger *slog.Logger) (gatewaysim.Config, error) {
	cfg := gatewaysim.DemoConfig(o.callbackBase)
	if err := gatewaysim.ApplyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	cfg.PublicURL, cfg.DataDir, cfg.Logger = strings.TrimRight(o.publicURL, "/"), o.dataDir, logger
	if o.vnpayIPN != "" {
		cfg.VNPAY.IPNURL = o.vnpayIPN
	}
	if o.zalopayCallback != "" {
		cfg.ZaloPay.CallbackURL = o.zalopayCallback
	}
	cfg.Callbacks.Timeout, cfg.Callbacks.Attempts = o.callbackTimeout, o.callbackAttempts
	cfg.Bank.SettlementLagDays = o.lagDays
	return cfg, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := o.config(getenv, logger)
	if err != nil {
		return err
	}
	if o.printEnv {
		fmt.Fprintln(stdout, strings.Join(gatewaysim.DemoEnv(cfg.PublicURL, cfg), "\n"))
		return nil
	}
	sim, err := gatewaysim.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = sim.Close()
		return err
	}
	fmt.Fprintf(stdout, "gatewaysim listening on %s (public URL %s)\n\n%s\nThe service's environment for it: gatewaysim -print-env\n",
		ln.Addr(), cfg.PublicURL, sim.Describe(cfg.PublicURL))
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var tick <-chan time.Time
	if o.dataDir != "" && o.saveEvery > 0 {
		t := time.NewTicker(o.saveEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			if err := sim.Save(); err != nil {
				logger.Error("gatewaysim: compaction", "error", err)
			}
		case err := <-served:
			_ = sim.Close()
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			return shutdown(srv, sim)
		}
	}
}

// shutdown stops accepting, gives requests a moment, then closes the
// simulator (releasing requests held by a hang fault) and the server.
func shutdown(srv *http.Server, sim *gatewaysim.Sim) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx) // a request held by a hang fault outlasts it; Close below releases it
	err := sim.Close()
	_ = srv.Close()
	return err
}
