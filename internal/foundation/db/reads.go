package db

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Reads sends reports (revenue, lists, exports, console pages) to a
// streaming replica while the replica is within the staleness bound, and
// everything else to the primary. A read that must see the caller's own
// writes (an order after paying it, a page after a form) never asks Reads:
// it reads the primary.
//
// The bound is measured, not assumed: Watch asks the replica every interval
// how far its replay is behind (no lag when it has replayed all it received,
// else the age of the last transaction it replayed), and ForReports uses the
// replica only while the last answer is at most MaxLag and no older than
// three intervals. A replica that stops answering, falls behind, or is not
// configured sends reports to the primary.
type Reads struct {
	primary, replica *pgxpool.Pool
	maxLag           time.Duration
	interval         time.Duration
	log              *slog.Logger
	lag              atomic.Int64 // nanoseconds; -1: unknown
	measured         atomic.Int64 // unix nanoseconds of the last answer
}

// PrimaryOnly is Reads without a replica: every read goes to primary.
func PrimaryOnly(primary *pgxpool.Pool) *Reads {
	return &Reads{primary: primary}
}

// NewReads routes reports to replica within maxLag, measured every interval.
func NewReads(primary, replica *pgxpool.Pool, maxLag, interval time.Duration, log *slog.Logger) *Reads {
	r := &Reads{primary: primary, replica: replica, maxLag: maxLag, interval: interval, log: log}
	r.lag.Store(-1)
	return r
}

// Close closes the replica's pool (the primary's belongs to its opener).
func (r *Reads) Close() {
	if r.replica != nil {
		r.replica.Close()
	}
}

// ForReports is the pool a report reads from now.
func (r *Reads) ForReports() *pgxpool.Pool {
	if r.replica == nil {
		return r.primary
	}
	lag := time.Duration(r.lag.Load())
	fresh := time.Since(time.Unix(0, r.measured.Load())) <= 3*r.interval
	if lag < 0 || lag > r.maxLag || !fresh {
		return r.primary
	}
	return r.replica
}

// Measure asks the replica how far behind it is and records the answer.
func (r *Reads) Measure(ctx context.Context) (time.Duration, error) {
	if r.replica == nil {
		return 0, nil
	}
	var secs float64
	err := r.replica.QueryRow(ctx, `SELECT CASE
		WHEN NOT pg_is_in_recovery() THEN 'Infinity'::float8
		WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
		ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 'Infinity')::float8 END`).Scan(&secs)
	if err != nil {
		r.lag.Store(-1)
		return 0, err
	}
	lag := time.Duration(secs * float64(time.Second))
	if secs > 1e9 { // not a replica at all, or nothing replayed yet
		lag = time.Duration(1<<62 - 1)
	}
	r.lag.Store(int64(lag))
	r.measured.Store(time.Now().UnixNano())
	return lag, nil
}

// Watch measures the lag every interval until ctx ends, logging when the
// replica starts or stops taking reports.
func (r *Reads) Watch(ctx context.Context) {
	if r.replica == nil {
		return
	}
	t := time.NewTicker(r.interval)
	defer t.Stop()
	using := false
	for {
		mctx, cancel := context.WithTimeout(ctx, r.interval)
		lag, err := r.Measure(mctx)
		cancel()
		now := r.ForReports() == r.replica
		if now != using && r.log != nil {
			if now {
				r.log.InfoContext(ctx, "db: reports read the replica", "lag", lag.String())
			} else {
				r.log.WarnContext(ctx, "db: reports read the primary: the replica is behind or not answering",
					"lag", lag.String(), "max_lag", r.maxLag.String(), "err", err)
			}
			using = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
