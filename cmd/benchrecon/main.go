// Command benchrecon measures reconciliation at a national portal's daily
// volume: 1,000,000 paid VNPAY attempts, bulk-loaded with COPY into the
// payment tables of a scratch database, and the gateway's 1,000,000-line
// settlement file of the day with a few hundred discrepancies. It reconciles
// the file through the production code path — import (raw file kept,
// hashed), load (parse, COPY into staging), run (match in SQL, exceptions,
// settlement) — and, in the same run, times a plain COPY of the same file
// into an unindexed table: the floor of what the database can ingest.
//
//	bench recon_1m_seconds <s> s          import + load + run of the file
//	bench recon_lines_per_s <n> 1/s
//	bench recon_peak_rss_mb <n> MB        this process's peak resident set (VmHWM)
//	bench copy_1m_seconds <s> s           plain COPY of the same file
//	bench recon_vs_copy <ratio> ratio
//	bench recon_queue_p99_ms <ms> ms      the console's exception queue with 100,000 open
//	                                      exceptions (default view, a filter, the next page)
//	bench recon_queue_p99_vs_pgbench_tpcb <ratio> ratio
//
// BENCH_RECON_LINES changes the volume (default 1000000); BENCH_RECON_LOG=info
// shows the service's log; BENCH_RECON_CPUPROFILE=file profiles the
// reconciliation; BENCH_RECON_KEEP=1 keeps the scratch database;
// BENCH_RECON_QUEUE=0 leaves out the exception queue's part.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/internal/testkit/reconday"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "benchrecon:", err)
		os.Exit(1)
	}
}

// The exception queue's part: how many open exceptions beside the day,
// and how long each view is loaded (0 exceptions: no queue part).
var (
	queueOpen     = 100_000
	queueDuration = 5 * time.Second
)

func run(ctx context.Context) error {
	lines := 1_000_000
	if s := os.Getenv("BENCH_RECON_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			return fmt.Errorf("BENCH_RECON_LINES %q: want an integer of at least 1000", s)
		}
		lines = n
	}
	scratch, err := benchutil.NewScratch(ctx, "recon", 16)
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_RECON_KEEP") == "" {
		defer scratch.Drop()
	} else {
		benchutil.Progress("keeping database %s", scratch.Name)
	}

	day := time.Date(2026, time.November, 23, 0, 0, 0, 0, bizday.Zone)
	plan := reconday.NewPlan(lines, day)
	start := time.Now()
	if err := plan.Seed(ctx, scratch.Pool); err != nil {
		return err
	}
	benchutil.Progress("seeded %d paid attempts in %s", plan.Attempts(), time.Since(start).Round(time.Millisecond))

	dir, err := os.MkdirTemp("", "benchrecon")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := dir + "/settlement.csv"
	info, err := plan.WriteFile(path)
	if err != nil {
		return err
	}
	benchutil.Progress("wrote the settlement file: %d lines, %d MB (%s)", info.Lines, info.Size>>20, plan.Summary())

	svc, err := plan.NewService(scratch.URL, scratch.Pool,
		slog.New(reconday.StageLog(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))))
	if err != nil {
		return err
	}
	elapsed, r, err := reconday.Reconcile(ctx, svc, path, os.Getenv("BENCH_RECON_CPUPROFILE"))
	if err != nil {
		return err
	}
	benchutil.Progress("reconciled in %s: %s", elapsed.Round(time.Millisecond), reconday.ClassSummary(r))
	if err := plan.Check(r); err != nil {
		return err
	}
	rss, err := peakRSS()
	if err != nil {
		return err
	}

	copyTime, err := plainCopy(ctx, scratch, path, info.TrailerAt)
	if err != nil {
		return err
	}
	benchutil.Line("recon_1m_seconds", round(elapsed.Seconds(), 2), "s")
	benchutil.Line("recon_lines_per_s", round(float64(info.Lines)/elapsed.Seconds(), 0), "1/s")
	benchutil.Line("recon_peak_rss_mb", round(float64(rss)/1024, 1), "MB")
	benchutil.Line("copy_1m_seconds", round(copyTime.Seconds(), 2), "s")
	benchutil.Line("recon_vs_copy", round(elapsed.Seconds()/copyTime.Seconds(), 2), "ratio")
	if queueOpen > 0 && os.Getenv("BENCH_RECON_QUEUE") != "0" {
		return queueBench(ctx, scratch, queueOpen, queueDuration)
	}
	return nil
}

// logLevel is the service's log level: BENCH_RECON_LOG=info shows its
// progress and stage lines.
func logLevel() slog.Level {
	if os.Getenv("BENCH_RECON_LOG") == "info" {
		return slog.LevelInfo
	}
	return slog.LevelError
}

// plainCopy times COPY of the file's transaction lines (the trailer is not
// a row) into an unindexed table of the same columns.
func plainCopy(ctx context.Context, s *benchutil.Scratch, path string, trailerAt int64) (time.Duration, error) {
	if _, err := s.Pool.Exec(ctx, `CREATE TABLE copy_floor (file_id text, day text, txn text, ref text, type text,
		gross numeric, fee numeric, net numeric, currency text, at text)`); err != nil {
		return 0, err
	}
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	start := time.Now()
	tag, err := conn.Conn().PgConn().CopyFrom(ctx, bufio.NewReaderSize(io.LimitReader(fh, trailerAt), 1<<20),
		`COPY copy_floor FROM STDIN (FORMAT csv, HEADER true)`)
	if err != nil {
		return 0, fmt.Errorf("plain copy: %w", err)
	}
	d := time.Since(start)
	benchutil.Progress("plain COPY of %d rows in %s", tag.RowsAffected(), d.Round(time.Millisecond))
	return d, nil
}

// peakRSS is VmHWM of this process, in kB.
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

func round(v float64, places int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', places, 64), 64)
	return f
}
