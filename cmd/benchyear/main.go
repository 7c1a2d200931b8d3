// Command benchyear measures the ledger's reads over a year of history: it
// seeds N paid entries (default 1,000,000; two postings each, 2% of them
// refunds) over the 365 business days of 2025, 60 agencies, 400 services,
// 4 gateways and 4 channels, by COPY into a scratch database, then times
//
//   - revenue for the year (GET /v1/revenue's ledger.Revenue) by service and
//     by day × service, with an agency key (one agency) and a treasury key
//     (every agency), and
//   - as-of balances (ledger.AccountBalance) of agency and gateway accounts at
//     random times of the year,
//
// first the way they were read before the rollups (ledger.RevenueScan,
// ledger.AccountBalanceScan: every posting of the range), then through the
// revenue rollups and balance checkpoints after `ledger rebuild-rollups`,
// with a live tail of payments posted after the rollups. It is the ledger
// part of the issue's `make bench BENCH=scale`, not the whole of it (no
// orders, attempts, events or webhooks are seeded).
//
// It prints `bench <name> <value> <unit>` lines on stdout (progress on
// stderr):
//
//	bench year_seed_seconds <s> s
//	bench year_revenue_scan_p99_ms <ms> ms      before: full scan
//	bench year_asof_balance_scan_p99_ms <ms> ms      before: full scan
//	bench year_rollup_rebuild_seconds <s> s
//	bench year_revenue_p99_ms <ms> ms           after: rollups + tail
//	bench year_asof_balance_p99_ms <ms> ms           after: checkpoint + a day + tail
//	bench year_revenue_equals_scan <0|1> bool
//	bench year_db_size_mb <mb> MB
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	o := options{}
	flag.IntVar(&o.entries, "entries", 1_000_000, "paid entries to seed over the year")
	flag.IntVar(&o.tail, "tail", 2_000, "payments posted after the rollups (the live tail)")
	flag.IntVar(&o.scanReps, "scan-reps", 5, "runs of each revenue query shape read by full scan (before)")
	flag.IntVar(&o.reps, "reps", 50, "runs of each revenue query shape through the rollups (after)")
	flag.IntVar(&o.asOfScans, "asof-scans", 40, "as-of balances read by full scan (before)")
	flag.IntVar(&o.asOfs, "asofs", 400, "as-of balances read through the checkpoints (after)")
	flag.BoolVar(&o.keep, "keep", false, "keep the scratch database (its name is printed) to look into it; drop it yourself")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "benchyear:", err)
		cancel()
		os.Exit(1)
	}
}
