package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/ledger"
)

type options struct {
	entries, tail, scanReps, reps, asOfScans, asOfs int
	keep                                            bool
}

// The year's shape.
const (
	agencies  = 60
	services  = 400
	batchSize = 100_000 // entries per seeding transaction
)

var (
	gateways  = []string{"vnpay", "momo", "zalopay", "vietqr"}
	channels  = []string{"card", "ewallet", "qr", "transfer"}
	yearStart = time.Date(2025, 1, 1, 0, 0, 0, 0, bizday.Zone)
	yearEnd   = yearStart.AddDate(1, 0, 0)
)

func agency(i int) string  { return fmt.Sprintf("AG%02d", i%agencies+1) }
func service(i int) string { return fmt.Sprintf("SVC-%03d", i+1) } // service i belongs to agency(i)

func run(ctx context.Context, o options) error {
	began := time.Now()
	s, err := benchutil.NewScratch(ctx, "year", 8)
	if err != nil {
		return err
	}
	if o.keep {
		defer s.Pool.Close()
		benchutil.Progress("keeping the scratch database %s", s.Name)
	} else {
		defer s.Drop()
	}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 15))

	start := time.Now()
	if err := seed(ctx, s.Pool, o.entries, rng); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	seedTime := time.Since(start)
	benchutil.Progress("seeded %d entries in %s", o.entries, seedTime.Round(time.Millisecond))
	if _, err := s.Pool.Exec(ctx, `ANALYZE`); err != nil {
		return err
	}

	benchutil.Progress("before: revenue and as-of balances by full scan")
	scanRev, err := revenueTimes(ctx, s.Pool, ledger.RevenueScan, o.scanReps, rng)
	if err != nil {
		return err
	}
	scanAsOf, err := asOfTimes(ctx, s.Pool, ledger.AccountBalanceScan, o.asOfScans, rng)
	if err != nil {
		return err
	}

	start = time.Now()
	actor := audit.WithActor(ctx, audit.Actor{ID: "cli:benchyear", Role: "cli"})
	p, err := ledger.RebuildRollups(actor, s.Pool, func(p ledger.RebuildProgress) {
		benchutil.Progress("rollups: %d of %d entries, up to xid %d", p.Entries, p.Total, p.UpToXID)
	})
	if err != nil {
		return err
	}
	rebuildTime := time.Since(start)
	benchutil.Progress("rolled up %d entries in %s", p.Entries, rebuildTime.Round(time.Millisecond))
	if err := postTail(ctx, s.Pool, o.tail, rng); err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	if _, err := s.Pool.Exec(ctx, `ANALYZE`); err != nil {
		return err
	}

	benchutil.Progress("after: revenue through the rollups, as-of balances through the checkpoints, with %d payments in the tail", o.tail)
	rev, err := revenueTimes(ctx, s.Pool, ledger.Revenue, o.reps, rng)
	if err != nil {
		return err
	}
	asOf, err := asOfTimes(ctx, s.Pool, ledger.AccountBalance, o.asOfs, rng)
	if err != nil {
		return err
	}
	same, err := sameAsScan(ctx, s.Pool)
	if err != nil {
		return err
	}
	var size int64
	if err := s.Pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
		return err
	}

	benchutil.Line("year_entries", float64(o.entries), "entries")
	benchutil.Line("year_seed_seconds", round(seedTime.Seconds(), 1), "s")
	for _, sh := range shapes {
		benchutil.Line("year_revenue_"+sh.name+"_scan_p99_ms", benchutil.Percentile(scanRev[sh.name], 99), "ms")
	}
	benchutil.Line("year_revenue_scan_p99_ms", benchutil.Percentile(all(scanRev), 99), "ms")
	benchutil.Line("year_asof_balance_scan_p99_ms", benchutil.Percentile(scanAsOf, 99), "ms")
	benchutil.Line("year_rollup_rebuild_seconds", round(rebuildTime.Seconds(), 1), "s")
	for _, sh := range shapes {
		benchutil.Line("year_revenue_"+sh.name+"_p99_ms", benchutil.Percentile(rev[sh.name], 99), "ms")
	}
	benchutil.Line("year_revenue_p99_ms", benchutil.Percentile(all(rev), 99), "ms")
	benchutil.Line("year_asof_balance_p99_ms", benchutil.Percentile(asOf, 99), "ms")
	benchutil.Line("year_revenue_equals_scan", map[bool]float64{true: 1}[same], "bool")
	benchutil.Line("year_db_size_mb", float64(size>>20), "MB")
	benchutil.Line("year_wall_seconds", round(time.Since(began).Seconds(), 1), "s")
	if !same {
		return fmt.Errorf("revenue through the rollups differs from the full scan")
	}
	return nil
}

// seed creates the accounts and COPYs o.entries entries, in effective-time
// order over the year, batchSize per transaction. The ledger's triggers are
// off while seeding (session_replication_role = replica, as a restore runs),
// so each row carries what the triggers would stamp: the transaction's xid,
// the entry's effective time; the ids the identity gives are known from the
// sequence. The content hashes are placeholders: `ledger verify` is not run.
func seed(ctx context.Context, pool *pgxpool.Pool, n int, rng *mrand.Rand) error {
	if _, err := pool.Exec(ctx, `INSERT INTO ledger_accounts (code, kind, currency)
		SELECT 'gateway:' || g || ':clearing', 'asset', 'VND' FROM unnest($1::text[]) g
		UNION ALL SELECT 'agency:' || format('AG%s', lpad(i::text, 2, '0')) || ':collected', 'liability', 'VND' FROM generate_series(1, $2) i`,
		gateways, agencies); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	step := yearEnd.Sub(yearStart) / time.Duration(n)
	hash := make([]byte, 32)
	for from := 0; from < n; from += batchSize {
		to := min(n, from+batchSize)
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
				return err
			}
			var xid, base int64
			if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint, nextval(pg_get_serial_sequence('ledger_entries', 'id'))`).Scan(&xid, &base); err != nil {
				return err
			}
			type entry struct {
				at                                 time.Time
				refund                             bool
				gateway, account, service, channel string
				amount                             int64
			}
			es := make([]entry, to-from)
			for i := range es {
				k := from + i
				svc := rng.IntN(services)
				es[i] = entry{at: yearStart.Add(time.Duration(k)*step + time.Duration(rng.Int64N(int64(step)))), refund: rng.IntN(50) == 0,
					gateway: gateways[rng.IntN(len(gateways))], account: ledger.AgencyCollected(agency(svc)), service: service(svc),
					channel: channels[rng.IntN(len(channels))], amount: 10_000 + rng.Int64N(2_000_000)}
			}
			i := 0
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"ledger_entries"},
				[]string{"idempotency_key", "kind", "reference", "description", "recorded_by", "effective_at", "content_hash"},
				pgx.CopyFromFunc(func() ([]any, error) {
					if i == len(es) {
						return nil, nil
					}
					e, k := es[i], strconv.Itoa(from+i)
					i++
					kind := "payment"
					if e.refund {
						kind = "refund"
					}
					return []any{"seed:" + k, kind, "ORD-" + k, "seeded", "benchyear", e.at, hash}, nil
				}))
			if err != nil {
				return fmt.Errorf("copy entries: %w", err)
			}
			var first, last int64
			if err := tx.QueryRow(ctx, `SELECT min(id), max(id) FROM ledger_entries WHERE xid = $1`, xid).Scan(&first, &last); err != nil {
				return err
			}
			if first != base+1 || last != base+int64(len(es)) {
				return fmt.Errorf("entries got ids %d..%d, expected %d..%d", first, last, base+1, base+int64(len(es)))
			}
			i = 0
			leg := 0
			_, err = tx.CopyFrom(ctx, pgx.Identifier{"ledger_postings"},
				[]string{"entry_id", "leg", "account_code", "currency", "direction", "amount", "service_code", "channel", "effective_at", "xid"},
				pgx.CopyFromFunc(func() ([]any, error) {
					if i == len(es) {
						return nil, nil
					}
					e, id := es[i], base+1+int64(i)
					gw, ag := "debit", "credit"
					if e.refund {
						gw, ag = ag, gw
					}
					if leg++; leg == 1 {
						return []any{id, 1, ledger.GatewayClearing(e.gateway), "VND", gw, e.amount, nil, nil, e.at, xid}, nil
					}
					leg, i = 0, i+1
					return []any{id, 2, e.account, "VND", ag, e.amount, e.service, e.channel, e.at, xid}, nil
				}))
			if err != nil {
				return fmt.Errorf("copy postings: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		benchutil.Progress("seeded %d of %d entries", to, n)
	}
	return nil
}

// postTail posts n payments through the ledger's own path after the
// rollups, effective on the year's last day: the live tail reads add up.
func postTail(ctx context.Context, pool *pgxpool.Pool, n int, rng *mrand.Rand) error {
	last := yearEnd.AddDate(0, 0, -1)
	for from := 0; from < n; from += 100 {
		var ps []ledger.Payment
		for k := from; k < min(n, from+100); k++ {
			svc := rng.IntN(services)
			ps = append(ps, ledger.Payment{Key: "tail:" + strconv.Itoa(k), OrderID: uuid.New(), AttemptID: uuid.New(),
				Gateway: gateways[rng.IntN(len(gateways))], Channel: channels[rng.IntN(len(channels))], Currency: "VND",
				EffectiveAt: last.Add(time.Duration(rng.Int64N(int64(24 * time.Hour)))),
				Shares:      []ledger.Share{{AgencyCode: agency(svc), ServiceCode: service(svc), Amount: decimal.NewFromInt(10_000 + rng.Int64N(2_000_000))}}})
		}
		if _, err := ledger.PostPayments(ctx, pool, ps); err != nil {
			return err
		}
	}
	return nil
}

type revenueFunc func(context.Context, ledger.DBTX, ledger.RevenueQuery, func(ledger.RevenueRow) error) error

// shapes are the year's revenue queries the issue names: by service and by
// day × service, for an agency's key (one agency) and a treasury key (all).
var shapes = []struct {
	name   string
	by     []ledger.Dimension
	agency bool
}{
	{"service_treasury", []ledger.Dimension{ledger.ByService}, false},
	{"day_service_treasury", []ledger.Dimension{ledger.ByDay, ledger.ByService}, false},
	{"service_agency", []ledger.Dimension{ledger.ByService}, true},
	{"day_service_agency", []ledger.Dimension{ledger.ByDay, ledger.ByService}, true},
}

func revenueTimes(ctx context.Context, pool *pgxpool.Pool, read revenueFunc, reps int, rng *mrand.Rand) (map[string][]time.Duration, error) {
	out := map[string][]time.Duration{}
	for range reps {
		for _, sh := range shapes {
			q := ledger.RevenueQuery{From: yearStart, To: yearEnd, GroupBy: sh.by}
			if sh.agency {
				q.Agency = agency(rng.IntN(agencies))
			}
			start := time.Now()
			rows := 0
			if err := read(ctx, pool, q, func(ledger.RevenueRow) error { rows++; return nil }); err != nil {
				return nil, fmt.Errorf("revenue %s: %w", sh.name, err)
			}
			out[sh.name] = append(out[sh.name], time.Since(start))
			if rows == 0 {
				return nil, fmt.Errorf("revenue %s: no rows", sh.name)
			}
		}
	}
	for _, sh := range shapes {
		benchutil.Progress("  revenue %s: p50 %.1f ms, p99 %.1f ms", sh.name, benchutil.Percentile(out[sh.name], 50), benchutil.Percentile(out[sh.name], 99))
	}
	return out, nil
}

type balanceFunc func(context.Context, ledger.DBTX, string, time.Time) (ledger.Balance, error)

// asOfTimes reads as-of balances of random agency and gateway accounts (a
// gateway's clearing account has a quarter of all postings) at random times
// of the year.
func asOfTimes(ctx context.Context, pool *pgxpool.Pool, read balanceFunc, n int, rng *mrand.Rand) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		account := ledger.AgencyCollected(agency(rng.IntN(agencies)))
		if i%2 == 1 {
			account = ledger.GatewayClearing(gateways[rng.IntN(len(gateways))])
		}
		at := yearStart.Add(time.Duration(rng.Int64N(int64(yearEnd.Sub(yearStart)))))
		start := time.Now()
		if _, err := read(ctx, pool, account, at); err != nil {
			return nil, fmt.Errorf("as-of balance of %s: %w", account, err)
		}
		out = append(out, time.Since(start))
	}
	benchutil.Progress("  as-of balance: p50 %.1f ms, p99 %.1f ms", benchutil.Percentile(out, 50), benchutil.Percentile(out, 99))
	return out, nil
}

// sameAsScan compares, in one snapshot, the rollups' answers with the full
// scan's for every shape and a few as-of balances.
func sameAsScan(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, sh := range shapes {
		q := ledger.RevenueQuery{From: yearStart.Add(5 * time.Hour), To: yearEnd, GroupBy: sh.by}
		if sh.agency {
			q.Agency = agency(7)
		}
		var got, want []ledger.RevenueRow
		if err := ledger.Revenue(ctx, tx, q, func(r ledger.RevenueRow) error { got = append(got, r); return nil }); err != nil {
			return false, err
		}
		if err := ledger.RevenueScan(ctx, tx, q, func(r ledger.RevenueRow) error { want = append(want, r); return nil }); err != nil {
			return false, err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			benchutil.Progress("revenue %s differs: %d rows through the rollups, %d by full scan", sh.name, len(got), len(want))
			return false, nil
		}
	}
	for _, account := range []string{ledger.GatewayClearing("momo"), ledger.AgencyCollected(agency(3))} {
		at := yearEnd.Add(-7 * time.Hour)
		got, err := ledger.AccountBalance(ctx, tx, account, at)
		if err != nil {
			return false, err
		}
		want, err := ledger.AccountBalanceScan(ctx, tx, account, at)
		if err != nil {
			return false, err
		}
		if !got.Net.Equal(want.Net) {
			benchutil.Progress("as-of balance of %s: %s through the checkpoints, %s by full scan", account, got.Net, want.Net)
			return false, nil
		}
	}
	return true, nil
}

func all(m map[string][]time.Duration) []time.Duration {
	var out []time.Duration
	for _, ds := range m {
		out = append(out, ds...)
	}
	return out
}

func round(x float64, places int) float64 {
	p, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', places, 64), 64)
	return p
}
