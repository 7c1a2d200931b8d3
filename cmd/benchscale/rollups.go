package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
	"github.com/civicpay/civicpay/ledger"
)

// seedRollups writes the revenue rollups (daily and monthly; migration
// 00039's triggers make the rollups without the channel from them) and the
// daily balance checkpoints of the seeded year, summed here from the same
// orders loadLedger posts, and moves the rollup horizon past the seeding
// transaction, as ledger.RollUp would leave them. ledger.RebuildRollups
// gives the same rows from the postings (scale_rollups_seconds, with
// -rebuild-rollups) but reads every posting three times; ledger.Verify
// checks these against the postings row by row (its revenue rollups and
// balance checkpoints steps), so a wrong sum here fails the run.
func seedRollups(ctx context.Context, pool *pgxpool.Pool, w *world) error {
	type revKey struct {
		day     int32 // days since 2000-01-01 of the business day (daily) or of its month's first day (monthly)
		service int
		method  string
	}
	type cpKey struct {
		account string
		day     int32
	}
	daily, monthly := map[revKey]*sum{}, map[revKey]*sum{}
	checkpoints := map[cpKey]*sum{}
	start := time.Now()
	for i := range w.n {
		o := w.order(i)
		g := gateways[o.gateway]
		day := bizday.Date(o.paid)
		d, m := pgDate(day), pgDate(time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC))
		addTo(checkpoints, cpKey{ledger.GatewayClearing(g.name), d}, o.total())
		for k, s := range []int{o.svc1, o.svc2}[:o.lines()] {
			amount := []int64{o.amount1, o.amount2}[k]
			addTo(daily, revKey{d, s, g.method}, amount)
			addTo(monthly, revKey{m, s, g.method}, amount)
			addTo(checkpoints, cpKey{ledger.AgencyCollected(w.agencies[w.services[s].agency].code), d}, -amount)
		}
	}
	benchutil.Progress("rollups summed in Go: %d daily, %d monthly, %d checkpoints in %s",
		len(daily), len(monthly), len(checkpoints), time.Since(start).Round(time.Millisecond))

	// A checkpoint is the account's balance at the end of its day: the
	// running sum of the days so far, in day order per account.
	cps := slices.Collect(maps.Keys(checkpoints))
	slices.SortFunc(cps, func(a, b cpKey) int { return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.day, b.day)) })
	var run sum
	for i, k := range cps {
		if i == 0 || cps[i-1].account != k.account {
			run = sum{}
		}
		s := checkpoints[k]
		run.amount += s.amount
		run.postings += s.postings
		*s = run
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var horizon, maxXID int64
		if err := tx.QueryRow(ctx, `SELECT up_to_xid, (SELECT coalesce(max(xid), 0) FROM ledger_entries) FROM ledger_rollup_horizon`).
			Scan(&horizon, &maxXID); err != nil {
			return fmt.Errorf("rollup horizon: %w", err)
		}
		if horizon != 0 {
			return fmt.Errorf("rollups: the horizon is at %d, not 0: this database was rolled up already", horizon)
		}
		// Empty below horizon 0; truncated so that COPY may FREEZE them.
		if _, err := tx.Exec(ctx, `TRUNCATE ledger_revenue_rollups, ledger_revenue_rollups_monthly, ledger_revenue_rollups_service,
			ledger_revenue_rollups_service_monthly, ledger_balance_checkpoints`); err != nil {
			return fmt.Errorf("rollups: truncate: %w", err)
		}
		for _, t := range []struct {
			table, key string
			m          map[revKey]*sum
		}{{"ledger_revenue_rollups", "day", daily}, {"ledger_revenue_rollups_monthly", "month", monthly}} {
			keys := slices.Collect(maps.Keys(t.m))
			err := timedCopy(ctx, tx, t.table, []string{t.key, "agency", "service", "channel", "currency", "gross", "refunds",
				"adjustments", "net", "postings"}, len(keys), func(c *copyRows, i int) {
				k, s := keys[i], t.m[keys[i]]
				svc := w.services[k.service]
				c.row(10)
				c.date(k.day)
				c.text(w.agencies[svc.agency].code)
				c.text(svc.code)
				c.text(k.method)
				c.text("VND")
				c.numeric(s.amount) // gross: credits to the agency
				c.numeric(0)
				c.numeric(0)
				c.numeric(s.amount)
				c.i64(s.postings)
			})
			if err != nil {
				return err
			}
		}
		err := timedCopy(ctx, tx, "ledger_balance_checkpoints", []string{"account_code", "day", "net", "postings"}, len(cps),
			func(c *copyRows, i int) {
				k := cps[i]
				s := checkpoints[k]
				c.row(4)
				c.text(k.account)
				c.date(k.day)
				c.signedNumeric(s.amount)
				c.i64(s.postings)
			})
		if err != nil {
			return err
		}
		// Every posting was recorded by the seeding transaction (xid
		// maxXID): the rows above cover exactly the postings below maxXID+1.
		_, err = tx.Exec(ctx, `UPDATE ledger_rollup_horizon SET up_to_xid = $1, rolled_at = now()`, maxXID+1)
		return err
	})
}

// sum is a rollup row's or a checkpoint's amount (gross; or net, debits
// positive) and count of postings.
type sum struct{ amount, postings int64 }

// addTo adds a posting of amount to m's row k.
func addTo[K comparable](m map[K]*sum, k K, amount int64) {
	s := m[k]
	if s == nil {
		s = &sum{}
		m[k] = s
	}
	s.amount += amount
	s.postings++
}

// pgDate is a date as PostgreSQL's binary format counts it: days since
// 2000-01-01.
func pgDate(day time.Time) int32 {
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	return int32(d.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

// date writes a date (days since 2000-01-01).
func (c *copyRows) date(days int32) {
	c.b = binary.BigEndian.AppendUint32(c.b, 4)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(days))
}

// signedNumeric writes a whole number of either sign.
func (c *copyRows) signedNumeric(v int64) {
	at := len(c.b)
	c.numeric(max(v, -v))
	if v < 0 {
		binary.BigEndian.PutUint16(c.b[at+8:], 0x4000) // after the length, the digit count and the weight
	}
}
