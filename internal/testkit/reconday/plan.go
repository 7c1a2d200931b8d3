// Package reconday is a gateway's settlement day at a national portal's
// volume, for benchmarks: the day's paid VNPAY attempts bulk-loaded with COPY
// into the payment tables, the gateway's settlement file of the day with a
// few hundred planted discrepancies, and its reconciliation through the
// production code path. cmd/benchrecon measures it on an empty database,
// cmd/benchscale beside a year of data.
package reconday

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/payments/reference"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// Plan is the day the bench reconciles: paid attempts i = 0..paid-1, each
// with a settlement line, except for the planted discrepancies.
type Plan struct {
	day     time.Time
	paid    int // paid attempts
	dropped int // paid here, left out of the file: missing there
	feeDiff int // charged 1,000 VND more than the contract: amount mismatch
	grossDf int // gross 5,000 VND off: amount mismatch
	dupes   int // written twice: duplicate
	unknown int // lines for references nobody has: unknown
	pending int // attempts pending here that the file says were paid: missing here
}

// NewPlan spreads the discrepancies so that the file has exactly lines lines.
func NewPlan(lines int, day time.Time) *Plan {
	k := max(lines/10_000, 5) // 100 of each kind at a million lines
	p := &Plan{day: day, dropped: 2 * k, feeDiff: k, grossDf: k / 2, dupes: k, unknown: k / 2, pending: k / 2}
	p.paid = lines + p.dropped - p.dupes - p.unknown - p.pending
	return p
}

func (p *Plan) Attempts() int { return p.paid + p.pending }

func (p *Plan) Summary() string {
	return fmt.Sprintf("%d dropped, %d fee and %d gross differences, %d duplicated, %d unknown, %d paid there only",
		p.dropped, p.feeDiff, p.grossDf, p.dupes, p.unknown, p.pending)
}

// Want is what the run must find.
func (p *Plan) Want() map[matcher.Class]int64 {
	lines := int64(p.paid - p.dropped + p.dupes + p.unknown + p.pending)
	return map[matcher.Class]int64{
		matcher.Matched:        lines - int64(p.feeDiff+p.grossDf+p.dupes+p.unknown+p.pending),
		matcher.MissingThere:   int64(p.dropped),
		matcher.AmountMismatch: int64(p.feeDiff + p.grossDf),
		matcher.Duplicate:      int64(p.dupes),
		matcher.Unknown:        int64(p.unknown),
		matcher.MissingHere:    int64(p.pending),
	}
}

// The attempts carrying each discrepancy, by index: consecutive blocks
// spread through the day.
func (p *Plan) isDropped(i int) bool { return i%1000 == 1 && i/1000 < p.dropped }
func (p *Plan) isFeeDiff(i int) bool { return i%1000 == 2 && i/1000 < p.feeDiff }
func (p *Plan) isGrossDf(i int) bool { return i%1000 == 3 && i/1000 < p.grossDf }
func (p *Plan) isDupe(i int) bool    { return i%1000 == 4 && i/1000 < p.dupes }

// amount is attempt i's amount: whole thousands of VND.
func amount(i int) int64 { return int64(10+i*7919%4990) * 1000 }

// vnpayFee is the contracted VNPAY fee (1.1% + 1,650 VND) of a whole
// thousand: exact, no rounding needed.
func vnpayFee(gross int64) int64 { return gross*11/1000 + 1650 }

func (p *Plan) Fees() map[string]matcher.Fee {
	return map[string]matcher.Fee{statement.GatewayVNPAY: {Percent: decimal.RequireFromString("1.1"), Fixed: decimal.NewFromInt(1650)}}
}

// paidAt spreads n attempts over the business day.
func (p *Plan) at(i, n int) time.Time {
	step := (24*time.Hour - time.Minute) / time.Duration(n)
	return p.day.Add(time.Duration(i) * step)
}

// id makes a sequential UUID (cheap to index) of kind k and number i.
func id(k byte, i int) uuid.UUID {
	var u uuid.UUID
	u[0] = k
	binary.BigEndian.PutUint64(u[8:], uint64(i))
	u[6] = 0x70 | (u[6] & 0x0f)
	u[8] = 0x80 | (u[8] & 0x3f)
	return u
}

func ref(i int) string { return fmt.Sprintf("%032x", i) }
func txn(i int) string { return strconv.Itoa(14_000_000_000 + i) }

// Seed COPYs the orders and attempts: paid ones, then the pending
// ones (whose lines say paid).
func (p *Plan) Seed(ctx context.Context, pool *pgxpool.Pool) error {
	n := p.Attempts()
	client := id(9, 0)
	expires := p.day.AddDate(0, 0, 30)
	orders := &rowSource{n: n, row: func(i int) ([]any, error) {
		r, err := reference.FromBody(fmt.Sprintf("%015d", i))
		if err != nil {
			return nil, err
		}
		status, paid, paidAt := "paid", amount(i), any(p.at(i, n))
		if i >= p.paid {
			status, paid, paidAt = "open", 0, nil
		}
		return []any{id(1, i), r, "AG-A", client, status, "VND", amount(i), paid, "Bench", "bench", expires, paidAt,
			p.at(i, n), r, []byte{0}}, nil
	}}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"orders"}, []string{"id", "reference", "agency_code", "created_by",
		"status", "currency", "total", "amount_paid", "payer_name", "description", "expires_at", "paid_at", "created_at",
		"idempotency_key", "request_hash"},
		orders); err != nil {
		return fmt.Errorf("seed orders: %w", err)
	}
	attempts := &rowSource{n: n, row: func(i int) ([]any, error) {
		at := p.at(i, n)
		if i >= p.paid {
			return []any{id(2, i), id(1, i), "vnpay", "card", ref(i), nil, "VND", amount(i), "pending", nil,
				"bench", at, at, at.Add(15 * time.Minute), nil, at}, nil
		}
		return []any{id(2, i), id(1, i), "vnpay", "card", ref(i), txn(i), "VND", amount(i), "succeeded", "payment",
			"bench", at, at, at.Add(15 * time.Minute), at, at}, nil
	}}
	// Each attempt's key row (payment_attempt_keys, migration 00043) is
	// written with it, by the same COPY's rows, the attempts' triggers off
	// (session_replication_role = replica: the insert trigger that would
	// write it row by row, and the check of the orders just written).
	keys := &rowSource{n: n, row: func(i int) ([]any, error) {
		at := p.at(i, n)
		if i >= p.paid {
			return []any{id(2, i), id(1, i), "vnpay", ref(i), at, "pending", nil, nil}, nil
		}
		return []any{id(2, i), id(1, i), "vnpay", ref(i), at, "succeeded", "payment", txn(i)}, nil
	}}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"payment_attempts"}, []string{"id", "order_id", "gateway", "method",
			"gateway_ref", "gateway_txn_id", "currency", "amount", "status", "outcome", "created_by", "created_at", "updated_at",
			"expires_at", "paid_at", "followed_at"}, attempts); err != nil {
			return fmt.Errorf("seed attempts: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"payment_attempt_keys"}, []string{"id", "order_id", "gateway", "gateway_ref",
			"created_at", "status", "outcome", "gateway_txn_id"}, keys); err != nil {
			return fmt.Errorf("seed attempt keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Statistics as autovacuum would have them, and the seeding's dirty
	// pages written out, so that its checkpoint does not land in the
	// measurement.
	if _, err := pool.Exec(ctx, `ANALYZE orders; ANALYZE payment_attempts; ANALYZE payment_attempt_keys; CHECKPOINT`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// rowSource is a pgx.CopyFromSource of n generated rows.
type rowSource struct {
	n, i int
	row  func(i int) ([]any, error)
	cur  []any
	err  error
}

func (s *rowSource) Next() bool {
	if s.i >= s.n || s.err != nil {
		return false
	}
	s.cur, s.err = s.row(s.i)
	s.i++
	return s.err == nil
}

func (s *rowSource) Values() ([]any, error) { return s.cur, nil }
func (s *rowSource) Err() error             { return s.err }

// FileInfo is what WriteFile wrote.
type FileInfo struct {
	Lines     int
	Size      int64
	TrailerAt int64 // offset of the trailer line
}

// WriteFile writes VNPAY's settlement file of the day, line by line.
func (p *Plan) WriteFile(path string) (FileInfo, error) {
	fh, err := os.Create(path)
	if err != nil {
		return FileInfo{}, err
	}
	defer fh.Close()
	cw := &countingWriter{w: bufio.NewWriterSize(fh, 1<<20)}
	w, err := statement.NewSettlementWriter(statement.GatewayVNPAY, cw, statement.SettlementFile{BusinessDate: p.day, Revision: 1})
	if err != nil {
		return FileInfo{}, err
	}
	var info FileInfo
	put := func(l statement.SettlementLine) error {
		info.Lines++
		return w.Write(l)
	}
	n := p.Attempts()
	for i := range n {
		if i < p.unknown {
			// A payment for a reference nobody has, of an amount no attempt
			// has (not whole thousands), so it pairs with nothing.
			g := int64(1_234_567 + i)
			f := matcher.Fee{Percent: decimal.RequireFromString("1.1"), Fixed: decimal.NewFromInt(1650)}.Of(decimal.NewFromInt(g), money.MustLookup(money.VND))
			if err := put(statement.SettlementLine{GatewayTxnID: strconv.Itoa(19_000_000_000 + i), Reference: "UNKNOWN" + strconv.Itoa(i),
				Type: statement.TypePayment, Gross: decimal.NewFromInt(g), Fee: f, Net: decimal.NewFromInt(g).Sub(f),
				Currency: "VND", At: p.at(i, n)}); err != nil {
				return FileInfo{}, err
			}
		}
		if p.isDropped(i) {
			continue
		}
		gross := amount(i)
		fee := vnpayFee(gross)
		switch {
		case p.isFeeDiff(i):
			fee += 1000
		case p.isGrossDf(i):
			gross += 5000
			fee = vnpayFee(gross - 5000)
		}
		l := statement.SettlementLine{GatewayTxnID: txn(i), Reference: ref(i), Type: statement.TypePayment,
			Gross: decimal.NewFromInt(gross), Fee: decimal.NewFromInt(fee), Net: decimal.NewFromInt(gross - fee),
			Currency: "VND", At: p.at(i, n)}
		if err := put(l); err != nil {
			return FileInfo{}, err
		}
		if p.isDupe(i) {
			if err := put(l); err != nil {
				return FileInfo{}, err
			}
		}
	}
	if err := w.Close(); err != nil {
		return FileInfo{}, err
	}
	if err := cw.w.Flush(); err != nil {
		return FileInfo{}, err
	}
	info.Size = cw.n
	if info.TrailerAt, err = lastLineAt(fh, info.Size); err != nil {
		return FileInfo{}, err
	}
	return info, fh.Close()
}

// lastLineAt is the offset of the last line of a file of size bytes that
// ends with a line end.
func lastLineAt(f *os.File, size int64) (int64, error) {
	tail := make([]byte, min(size, 512))
	if _, err := f.ReadAt(tail, size-int64(len(tail))); err != nil {
		return 0, err
	}
	body := tail[:len(tail)-1] // drop the last line's "\n"
	for i := len(body) - 1; i >= 0; i-- {
		if body[i] == '\n' {
			return size - int64(len(tail)) + int64(i) + 1, nil
		}
	}
	return 0, fmt.Errorf("no line end in the last %d bytes", len(tail))
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

var _ io.Writer = (*countingWriter)(nil)
