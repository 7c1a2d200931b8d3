// Command benchledger measures the ledger's posting throughput: entries per
// second (two postings each) posted in process at concurrency 1, 8 and 32,
// for traffic spread over 1,000 clearing accounts and for one hot clearing
// account, and over the HTTP API (POST /v1/ledger/entries). It creates a
// scratch database on the server at DATABASE_URL, migrates it, measures, and
// drops it. The sealer, the balance snapshotter and the rollups run every second
// throughout, as in production, and the ledger is verified at the end.
//
// It prints `bench <name> <value> <unit>` lines on stdout (progress on
// stderr), among them:
//
//	bench ledger_entries_per_s <n> 1/s        spread, in process, best concurrency
//	bench ledger_hot_vs_spread <ratio> ratio  hot account vs spread, best vs best
//	bench ledger_http_entries_per_s <n> 1/s   over HTTP
//	bench ledger_pgbench_tpcb_tps <n> 1/s     the yardstick: pgbench TPC-B, 8 clients, same server, same run
//	bench ledger_vs_pgbench_tpcb <ratio> ratio  ledger_entries_per_s over it
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

func main() {
	phase := flag.Duration("phase", 4*time.Second, "measured length of each phase (after a warm-up)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	yard := flag.Duration("pgbench", 5*time.Second, "pgbench TPC-B yardstick duration (0: skip)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchledger: cpu profile:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, *phase, *yard); err != nil {
		fmt.Fprintln(os.Stderr, "benchledger:", err)
		pprof.StopCPUProfile()
		cancel()
		os.Exit(1)
	}
}

// bench prints one result line.
func bench(name string, value float64, unit string) {
	switch unit {
	case "1/s":
		fmt.Printf("bench %s %.0f %s\n", name, value, unit)
	default:
		fmt.Printf("bench %s %.3f %s\n", name, value, unit)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchledger: "+format+"\n", args...)
}
