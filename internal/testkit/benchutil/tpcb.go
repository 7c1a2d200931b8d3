package benchutil

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
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

// YardstickClients is the pgbench client count of the TPC-B yardstick.
const YardstickClients = 8

// Yardstick measures pgbench's TPC-B transaction (YardstickClients clients,
// for d) on s's database on the benchmark's own server, before the group's
// own load, so that neither disturbs the other.
func Yardstick(ctx context.Context, s *Scratch, d time.Duration) (TPCB, error) {
	Progress("yardstick: pgbench TPC-B, %d clients, %s, on the same server", YardstickClients, d)
	y, err := PgbenchTPCB(ctx, s, YardstickClients, d)
	if err != nil {
		return TPCB{}, fmt.Errorf("yardstick: %w", err)
	}
	return y, nil
}

// Lines prints the yardstick beside a group's figures, and the ratio of the
// group's rate perS to it, which compares across machines:
//
//	bench <group>_pgbench_tpcb_tps <n> 1/s
//	bench <group>_pgbench_tpcb_latency_ms <n> ms
//	bench <group>_vs_pgbench_tpcb <ratio> ratio
func (y TPCB) Lines(group string, perS float64) {
	Line(group+"_pgbench_tpcb_tps", math.Round(y.TPS*10)/10, "1/s")
	Line(group+"_pgbench_tpcb_latency_ms", math.Round(y.LatencyMS*1000)/1000, "ms")
	if y.TPS > 0 {
		Line(group+"_vs_pgbench_tpcb", math.Round(perS/y.TPS*1000)/1000, "ratio")
	}
}

// ScratchAt names the database of dbURL (its path) as a Scratch for pgbench,
// for benchmarks that make their scratch database themselves; its Pool is nil
// and Drop is not for it.
func ScratchAt(dbURL string) (*Scratch, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return nil, fmt.Errorf("no database in %s", u.Redacted())
	}
	return &Scratch{Name: name, URL: dbURL}, nil
}
