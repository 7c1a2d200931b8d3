package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/civicpay/civicpay/internal/testkit/benchutil"
)

// harness is everything the suite runs: the database, gatewaysim, up to
// two civicpay instances, the balancer in front of them for callbacks.
type harness struct {
	binDir, logDir string
	db             *scratch
	simAddr        string
	simProc        *proc
	sim            *sim
	lb             *balancer
	lbURL          string
	lbServer       *http.Server
	env            []string // civicpay's environment, without the per-instance address
	portalKey      string
	instances      [2]*instance
	hc             *http.Client
	downOnce       sync.Once
}

// instance is one civicpay serve process (restarted on the same address).
type instance struct {
	name, addr, metricsAddr string
	proc                    *proc
	starts                  int
}

func (in *instance) url() string { return "http://" + in.addr }

// civicpayEnv is what `make run` gives civicpay (internal/testkit/devdb/run.sh:
// development mode, loopback webhooks, the simulator's merchant from
// `gatewaysim -print-env`), with the suite's addresses, and:
//   - no rate limits or connection cap (one client address and key drive
//     hundreds of requests a second, as in the other benchmarks);
//   - status jobs after 5 s instead of 1 min, so that payments whose
//     callback was lost settle within the suite's time (the sweep runs every
//     1.25 s);
//   - no daily reconciliation run, and warn-level logs (errors and warnings
//     only: the access log of every request would be most of the run's I/O).
func (h *harness) civicpayEnv(simEnv []string) []string {
	env := append(baseEnv(),
		"DATABASE_URL="+h.db.url,
		"CIVICPAY_ENV=development",
		"CIVICPAY_PUBLIC_URL="+h.lbURL,
		"CIVICPAY_WEBHOOKS_ALLOW_LOOPBACK=true",
		"CIVICPAY_LOG_LEVEL=warn",
		"CIVICPAY_RECON_CUTOFF=off",
		"CIVICPAY_STATUS_POLL_DELAY=5s",
		"CIVICPAY_RATE_LIMIT_PER_KEY=0",
		"CIVICPAY_RATE_LIMIT_PER_IP=0",
		"CIVICPAY_RATE_LIMIT_PAGES_PER_IP=0",
		"CIVICPAY_RATE_LIMIT_PAGES_PER_REF=0",
		"CIVICPAY_MAX_CONNS_PER_IP=0",
	)
	return append(env, simEnv...)
}

// setUp builds the binaries, creates and migrates the database, seeds the
// demo catalogue and keys, and starts the balancer.
func (h *harness) setUp(ctx context.Context) error {
	benchutil.Progress("building civicpay and gatewaysim into %s", h.binDir)
	if err := build(ctx, h.binDir); err != nil {
		return err
	}
	var err error
	if h.db, err = createDatabase(ctx); err != nil {
		return err
	}
	if h.simAddr, err = freeAddr(); err != nil {
		return err
	}
	lbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h.lb, h.lbURL = newBalancer(), "http://"+lbLn.Addr().String()
	h.lbServer = &http.Server{Handler: h.lb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.lbServer.Serve(lbLn) }()

	simArgs := []string{"-addr", h.simAddr, "-callback-base", h.lbURL, "-log-level", "warn"}
	out, err := exec.CommandContext(ctx, filepath.Join(h.binDir, "gatewaysim"), append(simArgs, "-print-env")...).Output()
	if err != nil {
		return fmt.Errorf("gatewaysim -print-env: %w", err)
	}
	h.env = h.civicpayEnv(strings.Fields(string(out)))

	benchutil.Progress("migrating %s with `civicpay migrate`; seeding with `civicpay demo`", h.db.name)
	civicpay := filepath.Join(h.binDir, "civicpay")
	cmdLog := filepath.Join(h.logDir, "commands.log")
	if _, err := runCommand(ctx, civicpay, h.env, cmdLog, "migrate"); err != nil {
		return fmt.Errorf("civicpay migrate: %w (see %s)", err, cmdLog)
	}
	demo, err := runCommand(ctx, civicpay, h.env, cmdLog, "demo")
	if err != nil {
		return fmt.Errorf("civicpay demo: %w (see %s)", err, cmdLog)
	}
	if h.portalKey = exportValue(demo, "PORTAL_KEY"); h.portalKey == "" {
		return fmt.Errorf("civicpay demo printed no PORTAL_KEY")
	}
	return h.db.open(ctx)
}

// startServices starts gatewaysim and instance a, and waits for both.
func (h *harness) startServices(ctx context.Context) error {
	simArgs := []string{"-addr", h.simAddr, "-callback-base", h.lbURL, "-log-level", "warn"}
	var err error
	if h.simProc, err = startProc("gatewaysim", filepath.Join(h.binDir, "gatewaysim"), simArgs,
		baseEnv(), filepath.Join(h.logDir, "gatewaysim.log")); err != nil {
		return err
	}
	h.sim = &sim{hc: newHTTPClient(64), base: "http://" + h.simAddr}
	if err := waitHTTP(h.sim.base+"/admin/faults", 20*time.Second); err != nil {
		return err
	}
	for i, name := range []string{"a", "b"} {
		in := &instance{name: name}
		if in.addr, err = freeAddr(); err != nil {
			return err
		}
		if in.metricsAddr, err = freeAddr(); err != nil {
			return err
		}
		h.instances[i] = in
	}
	a := h.instances[0]
	if err := h.start(a); err != nil {
		return err
	}
	if err := waitHTTP(a.url()+"/readyz", 30*time.Second); err != nil {
		return err
	}
	h.lb.set(a.addr)
	return nil
}

// start starts (or restarts) an instance; it does not wait for it to be ready.
func (h *harness) start(in *instance) error {
	in.starts++
	env := append(append([]string(nil), h.env...), "CIVICPAY_ADDR="+in.addr, "CIVICPAY_METRICS_ADDR="+in.metricsAddr)
	p, err := startProc("civicpay "+in.name, filepath.Join(h.binDir, "civicpay"), []string{"serve"}, env,
		filepath.Join(h.logDir, fmt.Sprintf("civicpay-%s.log", in.name)))
	if err != nil {
		return err
	}
	in.proc = p
	return nil
}

// mark writes a line into every civicpay log, so that a log can be read
// scenario by scenario.
func (h *harness) mark(line string) {
	for _, in := range h.instances {
		if in == nil {
			continue
		}
		f, err := os.OpenFile(filepath.Join(h.logDir, fmt.Sprintf("civicpay-%s.log", in.name)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			continue
		}
		fmt.Fprintf(f, "%s %s\n", time.Now().Format(time.RFC3339Nano), line)
		f.Close()
	}
}

// reportReady notes, in the background, how long the instance took to
// answer /readyz after its start.
func (h *harness) reportReady(in *instance) {
	go func() {
		start := in.proc.started
		if err := waitHTTP(in.url()+"/readyz", 60*time.Second); err != nil {
			trouble("civicpay %s: %v", in.name, err)
			return
		}
		benchutil.Progress("civicpay %s ready %d ms after its start", in.name, time.Since(start).Milliseconds())
	}()
}

// tearDown stops everything the suite started, by pid, and drops the database.
func (h *harness) tearDown(keepDB bool) {
	h.downOnce.Do(func() { h.down(keepDB) })
}

func (h *harness) down(keepDB bool) {
	for _, in := range h.instances {
		if in != nil && in.proc != nil && in.proc.running() {
			in.proc.term(30 * time.Second)
		}
	}
	if h.simProc != nil && h.simProc.running() {
		h.simProc.term(10 * time.Second)
	}
	if h.lbServer != nil {
		_ = h.lbServer.Close()
	}
	if h.db != nil {
		if keepDB {
			if h.db.pool != nil {
				h.db.pool.Close()
			}
			benchutil.Progress("kept database %s", h.db.name)
		} else {
			h.db.drop()
		}
	}
}
