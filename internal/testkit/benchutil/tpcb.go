package benchutil

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// TPCB is pgbench's built-in TPC-B-like transaction measured on the same
// server: the yardstick a benchmark's figures are divided by, so that a run
// on another machine can be compared.
type TPCB struct {
	TPS       float64 // transactions per second
	LatencyMS float64 // mean latency of one transaction, in milliseconds
}

var latencyRE = regexp.MustCompile(`latency average = ([0-9.]+) ms`)

// PgbenchTPCB initialises pgbench's tables (scale 1) in the scratch
// database, runs the TPC-B transaction from clients connections for d,
// and drops the tables again.
func PgbenchTPCB(ctx context.Context, s *Scratch, clients int, d time.Duration) (TPCB, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return TPCB{}, err
	}
	conn := []string{"-h", u.Hostname(), "-p", u.Port(), "-U", u.User.Username(), s.Name}
	if u.Port() == "" {
		conn = []string{"-h", u.Hostname(), "-U", u.User.Username(), s.Name}
	}
	pgbench := func(args ...string) ([]byte, error) {
		out, err := exec.CommandContext(ctx, "pgbench", append(args, conn...)...).CombinedOutput()
		if err != nil {
			return out, fmt.Errorf("pgbench %v: %w\n%s", args, err, out)
		}
		return out, nil
	}
	if _, err := pgbench("-i", "-q", "-s", "1"); err != nil {
		return TPCB{}, err
	}
	defer func() { _, _ = pgbench("-i", "-I", "d") }() // drop pgbench's tables
	out, err := pgbench("-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(max(1, int(d.Seconds()))))
	if err != nil {
		return TPCB{}, err
	}
	tps, lat := tpsRE.FindSubmatch(out), latencyRE.FindSubmatch(out)
	if tps == nil || lat == nil {
		return TPCB{}, fmt.Errorf("pgbench: no tps or latency in output:\n%s", out)
	}
	var r TPCB
	if r.TPS, err = strconv.ParseFloat(string(tps[1]), 64); err != nil {
		return TPCB{}, err
	}
	if r.LatencyMS, err = strconv.ParseFloat(string(lat[1]), 64); err != nil {
		return TPCB{}, err
	}
	return r, nil
}
