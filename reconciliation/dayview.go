package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// The treasury's view of business days: a month's calendar of day states,
// and one day with its sources (files, runs, lines, class counts), the
// settlement chain from a bank credit down to our orders, the "both sides
// agree" check per gateway, and the exceptions that hold it open. Reads
// only; the staff console's reconciliation pages show them.

// Day states, as the calendar shows them.
const (
	// DayNotRun: some source has no completed run of the day.
	DayNotRun = "not_run"
	// DayExceptionsOpen: an exception of the day is unresolved and not
	// carried forward.
	DayExceptionsOpen = "exceptions_open"
	// DayBalanced: every source ran, nothing is left open; the day may close.
	DayBalanced = "balanced"
	// DayClosed: the day is closed (no entry may take effect in it).
	DayClosed = "closed"
)

// unresolvedSQL is what an exception that still holds its day open is, on
// recon_exceptions aliased e: open (acknowledged or not) or a credit awaiting
// a second approver, and not carried forward.
const unresolvedSQL = `e.status IN ('open', 'awaiting_approval')
	AND NOT EXISTS (SELECT 1 FROM recon_exception_carries c WHERE c.exception_id = e.id)`

// sources are the sources of a day: every configured gateway, then the bank.
func (s *Service) sources() []string { return append(slices.Clone(s.cfg.Gateways), SourceBank) }

// ledgerDay is a business day (midnight GMT+7) as the ledger takes it.
func ledgerDay(day time.Time) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
}

// stateOf is the calendar state of a day from its counts.
func stateOf(closed bool, open int64, ran, sources int) string {
	switch {
	case closed:
		return DayClosed
	case open > 0:
		return DayExceptionsOpen
	case ran < sources:
		return DayNotRun
	}
	return DayBalanced
}

// CalendarDay is one day of the month's calendar.
type CalendarDay struct {
	Date  string `json:"date"`
	State string `json:"state"`
	// Over: the day has ended (GMT+7).
	Over bool `json:"over"`
	// Ran counts the sources with a completed run of the day, of Sources.
	Ran, Sources int
	// OpenExceptions counts the unresolved exceptions not carried forward;
	// CarriedForward those carried forward.
	OpenExceptions, CarriedForward int64
}

// Month returns the days of a month (GMT+7 business days), first to last,
// each with its state.
func (s *Service) Month(ctx context.Context, year int, month time.Month) ([]CalendarDay, error) {
	first := time.Date(year, month, 1, 0, 0, 0, 0, bizday.Zone)
	if first.Year() < 2000 || first.Year() >= 9000 {
		return nil, fmt.Errorf("%w: month %04d-%02d", ErrInvalid, year, month)
	}
	last := first.AddDate(0, 1, -1)
	sources := s.sources()
	ran := map[string]int{}
	rows, err := s.pool.Query(ctx, `SELECT business_date, count(DISTINCT source) FROM recon_runs
		WHERE business_date BETWEEN $1 AND $2 AND status = 'completed' AND source = ANY($3) GROUP BY business_date`,
		first, last, sources)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: month runs: %w", err)
	}
	for rows.Next() {
		var d time.Time
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reconciliation: month runs: %w", err)
		}
		ran[dayString(dbDay(d))] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconciliation: month runs: %w", err)
	}
	type counts struct{ open, carried int64 }
	exc := map[string]counts{}
	rows, err = s.pool.Query(ctx, `SELECT e.business_date,
			count(*) FILTER (WHERE c.exception_id IS NULL), count(c.exception_id)
		FROM recon_exceptions e LEFT JOIN recon_exception_carries c ON c.exception_id = e.id
		WHERE e.business_date BETWEEN $1 AND $2 AND e.status IN ('open', 'awaiting_approval')
		GROUP BY e.business_date`, first, last)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: month exceptions: %w", err)
	}
	for rows.Next() {
		var d time.Time
		var c counts
		if err := rows.Scan(&d, &c.open, &c.carried); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reconciliation: month exceptions: %w", err)
		}
		exc[dayString(dbDay(d))] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconciliation: month exceptions: %w", err)
	}
	closed, err := ledger.ClosedDaysBetween(ctx, s.pool, ledgerDay(first), ledgerDay(last))
	if err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	var out []CalendarDay
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		key := dayString(d)
		_, isClosed := closed[key]
		c := exc[key]
		out = append(out, CalendarDay{Date: key, Over: !now.Before(d.AddDate(0, 0, 1)), Ran: ran[key], Sources: len(sources),
			OpenExceptions: c.open, CarriedForward: c.carried, State: stateOf(isClosed, c.open, ran[key], len(sources))})
	}
	return out, nil
}

// Side is one side's count and amount.
type Side struct {
	Count  int64           `json:"count"`
	Amount decimal.Decimal `json:"amount"`
}

// Agreement is the "both sides agree" check of one gateway and currency on a
// day: our records (payments less refunds recorded in the day), the
// gateway's file (the latest revision's trailer) and the bank's credit that
// pays it. VietQR has no file: its transfers are the bank's credits that
// name an order, against our VietQR payments.
type Agreement struct {
	Gateway  string `json:"gateway"`
	Currency string `json:"currency"`
	// Ours: successful payments (count, amount) and refunds of the day,
	// together in Ours (a refund counts as a line, its amount negative).
	Ours     Side             `json:"ours"`
	Payments Side             `json:"payments"`
	Refunds  Side             `json:"refunds"`
	Theirs   *Side            `json:"theirs,omitempty"` // the file's lines and gross; nil: no file
	Fees     *decimal.Decimal `json:"fees,omitempty"`   // the file's fees
	Net      *decimal.Decimal `json:"net,omitempty"`    // the file's net: what the bank should credit
	Bank     *Side            `json:"bank,omitempty"`   // the bank's credit(s); nil: none yet
	// The checks: lines and amount, ours against theirs (VietQR: against
	// the bank's), and the bank's credit against the file's net.
	CountAgrees  bool `json:"count_agrees"`
	AmountAgrees bool `json:"amount_agrees"`
	BankAgrees   bool `json:"bank_agrees"`
	Agree        bool `json:"agree"`
}

// BankTotals are the treasury account's booked entries of a day, in one currency.
type BankTotals struct {
	Currency string `json:"currency"`
	Credits  Side   `json:"credits"`
	Debits   Side   `json:"debits"`
}

// SourceView is one source of a day: its files, its runs and what the
// latest completed run found.
type SourceView struct {
	Source string `json:"source"`
	// Files: a gateway's loaded revisions of the day, newest first; the
	// bank's files with booked entries of the day.
	Files []File `json:"files"`
	// Received: a loaded file covers the day.
	Received bool `json:"received"`
	// LatestRun is the day's newest run of the source (any status);
	// Completed its newest completed one, whose totals these are.
	LatestRun *Run `json:"latest_run,omitempty"`
	Completed *Run `json:"completed,omitempty"`
	// Lines is the completed run's line count, Classes its counts and
	// totals per class.
	Lines   int64           `json:"lines"`
	Classes []matcher.Total `json:"classes"`
	// Gateway sources: the settlement of the day. The bank: its totals.
	Settlement *Settlement  `json:"settlement,omitempty"`
	Bank       []BankTotals `json:"bank,omitempty"`
}

// DayView is one business day as treasury works it.
type DayView struct {
	Status     DayStatus    `json:"status"`
	State      string       `json:"state"`
	Sources    []SourceView `json:"sources"`
	Agreements []Agreement  `json:"agreements"`
	// Exceptions are the day's unresolved exceptions (carried forward
	// ones included, marked), at most dayExceptionLimit; Unresolved counts
	// them all.
	Exceptions []DayException `json:"exceptions"`
	Unresolved int64          `json:"unresolved"`
	// Reopen is the reopen request waiting for a decision; Reopens every
	// reopen request of the day.
	Reopen  *ledger.DayReopen  `json:"reopen,omitempty"`
	Reopens []ledger.DayReopen `json:"reopens"`
	// Unloaded are recent files not (yet) loaded: waiting or refused, with
	// the reason, whichever day they are of.
	Unloaded []File `json:"unloaded"`
}

// dayExceptionLimit bounds the exceptions a day view lists.
const dayExceptionLimit = 200

// DayView returns business day day (midnight ICT) as treasury works it.
func (s *Service) DayView(ctx context.Context, day time.Time) (DayView, error) {
	var v DayView
	var err error
	if v.Status, err = s.Day(ctx, day); err != nil {
		return v, err
	}
	ran := 0
	for _, id := range v.Status.Reconciled {
		if id != 0 {
			ran++
		}
	}
	v.State = stateOf(v.Status.Closed != nil, v.Status.OpenExceptions, ran, len(v.Status.Reconciled))
	for _, src := range s.sources() {
		sv, err := s.sourceView(ctx, s.pool, src, day, v.Status.Reconciled[src])
		if err != nil {
			return v, err
		}
		v.Sources = append(v.Sources, sv)
	}
	if v.Agreements, err = s.agreements(ctx, s.pool, day); err != nil {
		return v, err
	}
	if v.Exceptions, v.Unresolved, err = s.dayExceptions(ctx, s.pool, day, true, dayExceptionLimit); err != nil {
		return v, err
	}
	if v.Reopen, err = ledger.PendingReopen(ctx, s.pool, ledgerDay(day)); err != nil {
		return v, err
	}
	if v.Reopens, err = ledger.Reopens(ctx, s.pool, ledgerDay(day)); err != nil {
		return v, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+fileColumns+` FROM recon_files
		WHERE status <> 'loaded' AND received_at >= $1 ORDER BY id DESC LIMIT 20`, s.deps.Clock.Now().AddDate(0, 0, -7))
	if err != nil {
		return v, fmt.Errorf("reconciliation: unloaded files: %w", err)
	}
	if v.Unloaded, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (File, error) { return scanFile(r) }); err != nil {
		return v, fmt.Errorf("reconciliation: unloaded files: %w", err)
	}
	return v, nil
}

// dbtx reads in a pool or a transaction.
type dbtx interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Service) sourceView(ctx context.Context, db dbtx, src string, day time.Time, completed int64) (SourceView, error) {
	sv := SourceView{Source: src, Classes: []matcher.Total{}}
	var rows pgx.Rows
	var err error
	if src == SourceBank {
		rows, err = db.Query(ctx, `SELECT `+fileColumns+` FROM recon_files WHERE id IN (
			SELECT DISTINCT file_id FROM recon_bank_entries WHERE booking_date = $1 AND status = 'BOOK') ORDER BY id DESC`, day)
	} else {
		rows, err = db.Query(ctx, `SELECT `+fileColumns+` FROM recon_files
			WHERE gateway = $1 AND business_date = $2 AND status = 'loaded' ORDER BY revision DESC`, src, day)
	}
	if err != nil {
		return sv, fmt.Errorf("reconciliation: files of %s %s: %w", src, dayString(day), err)
	}
	if sv.Files, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (File, error) { return scanFile(r) }); err != nil {
		return sv, fmt.Errorf("reconciliation: files of %s %s: %w", src, dayString(day), err)
	}
	sv.Received = len(sv.Files) > 0
	latest, err := scanRun(db.QueryRow(ctx, `SELECT `+runColumns+` FROM recon_runs WHERE source = $1 AND business_date = $2
		ORDER BY id DESC LIMIT 1`, src, day))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return sv, fmt.Errorf("reconciliation: runs of %s %s: %w", src, dayString(day), err)
	default:
		sv.LatestRun = &latest
	}
	if completed != 0 {
		r, err := scanRun(db.QueryRow(ctx, `SELECT `+runColumns+` FROM recon_runs WHERE id = $1`, completed))
		if err != nil {
			return sv, fmt.Errorf("reconciliation: run %d: %w", completed, err)
		}
		if r.Classes, err = runClasses(ctx, db, completed); err != nil {
			return sv, err
		}
		sv.Completed, sv.Lines, sv.Classes = &r, r.LinesTotal, r.Classes
	}
	if src == SourceBank {
		sv.Bank, err = bankTotals(ctx, db, day)
		return sv, err
	}
	st, ok, err := getSettlement(ctx, db, src, day)
	if err != nil {
		return sv, err
	}
	if ok {
		sv.Settlement = &st
	}
	return sv, nil
}

// bookedSQL are the day's booked entries, each once (the newest file's copy).
const bookedSQL = `SELECT DISTINCT ON (entry_key) entry_key, amount, currency, credit, payment_ref
	FROM recon_bank_entries WHERE booking_date = $1 AND status = 'BOOK' ORDER BY entry_key, file_id DESC`

func bankTotals(ctx context.Context, db dbtx, day time.Time) ([]BankTotals, error) {
	rows, err := db.Query(ctx, `SELECT currency, count(*) FILTER (WHERE credit), coalesce(sum(amount) FILTER (WHERE credit), 0),
			count(*) FILTER (WHERE NOT credit), coalesce(sum(amount) FILTER (WHERE NOT credit), 0)
		FROM (`+bookedSQL+`) b GROUP BY currency ORDER BY currency`, day)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: bank totals of %s: %w", dayString(day), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (BankTotals, error) {
		var b BankTotals
		err := r.Scan(&b.Currency, &b.Credits.Count, &b.Credits.Amount, &b.Debits.Count, &b.Debits.Amount)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("reconciliation: bank totals of %s: %w", dayString(day), err)
	}
	return append([]BankTotals{}, out...), nil
}

// agreements checks each gateway (and VietQR) of the day, per currency.
func (s *Service) agreements(ctx context.Context, db dbtx, day time.Time) ([]Agreement, error) {
	type key struct{ gateway, currency string }
	ours := map[key]*Agreement{}
	get := func(k key) *Agreement {
		a, ok := ours[k]
		if !ok {
			a = &Agreement{Gateway: k.gateway, Currency: k.currency}
			ours[k] = a
		}
		return a
	}
	gateways := append(slices.Clone(s.cfg.Gateways), matcher.VietQR)
	from, to := day, day.AddDate(0, 0, 1)
	rows, err := db.Query(ctx, `
		SELECT gateway, currency, 'payment', count(*), coalesce(sum(amount), 0) FROM payments_recon_attempts
		WHERE status = 'succeeded' AND gateway = ANY($1) AND paid_at >= $2 AND paid_at < $3 GROUP BY gateway, currency
		UNION ALL
		SELECT a.gateway, r.currency, 'refund', count(*), coalesce(sum(r.amount), 0)
		FROM payments_recon_refunds r JOIN payments_recon_attempts a ON a.id = r.attempt_id
		WHERE r.status = 'succeeded' AND a.gateway = ANY($1) AND r.completed_at >= $2 AND r.completed_at < $3
		GROUP BY a.gateway, r.currency`, gateways, from, to)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: our records of %s: %w", dayString(day), err)
	}
	for rows.Next() {
		var k key
		var kind string
		var sd Side
		if err := rows.Scan(&k.gateway, &k.currency, &kind, &sd.Count, &sd.Amount); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reconciliation: our records of %s: %w", dayString(day), err)
		}
		a := get(k)
		if kind == "payment" {
			a.Payments = sd
		} else {
			a.Refunds = sd
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconciliation: our records of %s: %w", dayString(day), err)
	}
	for _, gw := range s.cfg.Gateways {
		var count int64
		var gross, fees, net decimal.Decimal
		var currency string
		err := db.QueryRow(ctx, `SELECT line_count, gross, fees, net, currency FROM recon_files
			WHERE gateway = $1 AND business_date = $2 AND status = 'loaded' ORDER BY revision DESC LIMIT 1`, gw, day).
			Scan(&count, &gross, &fees, &net, &currency)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reconciliation: file of %s %s: %w", gw, dayString(day), err)
		}
		a := get(key{gw, currency})
		a.Theirs, a.Fees, a.Net = &Side{Count: count, Amount: gross}, &fees, &net
		st, ok, err := getSettlement(ctx, db, gw, day)
		if err != nil {
			return nil, err
		}
		if ok && st.BankAmount != nil {
			a.Bank = &Side{Count: 1, Amount: *st.BankAmount}
		}
	}
	// The bank's side of VietQR: the day's credits naming a payment
	// reference, and those a person moved out of suspense to the orders
	// they pay (each order a payment; the amount the orders took, the rest
	// having gone to fees, write-off or suspense).
	rows, err = db.Query(ctx, `SELECT currency, sum(n), coalesce(sum(amount), 0) FROM (
			SELECT b.currency, coalesce(greatest(jsonb_array_length(r.request->'targets'), 1), 1) AS n,
			       CASE WHEN r.id IS NULL THEN b.amount ELSE b.amount - r.difference END AS amount
			FROM (`+bookedSQL+`) b
			LEFT JOIN recon_exceptions x ON x.key = 'bank:' || b.entry_key
			LEFT JOIN recon_resolutions r ON r.exception_id = x.id AND r.kind = 'to_order' AND r.status = 'posted'
			WHERE b.credit AND (b.payment_ref IS NOT NULL OR r.id IS NOT NULL)) m
		GROUP BY currency`, day)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: transfers of %s: %w", dayString(day), err)
	}
	for rows.Next() {
		var currency string
		var sd Side
		if err := rows.Scan(&currency, &sd.Count, &sd.Amount); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reconciliation: transfers of %s: %w", dayString(day), err)
		}
		get(key{matcher.VietQR, currency}).Bank = &sd
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconciliation: transfers of %s: %w", dayString(day), err)
	}
	out := make([]Agreement, 0, len(ours))
	for _, a := range ours {
		a.Ours = Side{Count: a.Payments.Count + a.Refunds.Count, Amount: a.Payments.Amount.Sub(a.Refunds.Amount)}
		if a.Gateway == matcher.VietQR {
			bank := Side{Amount: decimal.Zero}
			if a.Bank != nil {
				bank = *a.Bank
			}
			a.CountAgrees, a.AmountAgrees, a.BankAgrees = a.Ours.Count == bank.Count, a.Ours.Amount.Equal(bank.Amount), true
		} else if a.Theirs != nil {
			a.CountAgrees, a.AmountAgrees = a.Ours.Count == a.Theirs.Count, a.Ours.Amount.Equal(a.Theirs.Amount)
			a.BankAgrees = a.Bank != nil && a.Bank.Amount.Sub(*a.Net).Abs().LessThanOrEqual(s.cfg.SettlementTolerance)
		}
		a.Agree = a.CountAgrees && a.AmountAgrees && a.BankAgrees
		out = append(out, *a)
	}
	order := func(gw string) int {
		if i := slices.Index(gateways, gw); i >= 0 {
			return i
		}
		return len(gateways)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Gateway != out[j].Gateway {
			return order(out[i].Gateway) < order(out[j].Gateway)
		}
		return out[i].Currency < out[j].Currency
	})
	return out, nil
}

// Carry is an exception carried forward out of its day.
type Carry struct {
	Note string    `json:"note"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// DayException is an exception of a day, with its carry if carried forward.
type DayException struct {
	Exception
	Carry *Carry `json:"carried_forward,omitempty"`
}

// dayExceptions lists the exceptions of day (only the unresolved ones when
// unresolved), by id, at most limit, and counts them all.
func (s *Service) dayExceptions(ctx context.Context, db dbtx, day time.Time, unresolved bool, limit int) ([]DayException, int64, error) {
	cond := "true"
	if unresolved {
		cond = `e.status IN ('open', 'awaiting_approval')`
	}
	var total int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM recon_exceptions e WHERE e.business_date = $1 AND `+cond, day).
		Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("reconciliation: exceptions of %s: %w", dayString(day), err)
	}
	rows, err := db.Query(ctx, `SELECT `+exceptionColumns+`, c.note, c.carried_by, c.carried_at
		FROM recon_exceptions e LEFT JOIN recon_exception_carries c ON c.exception_id = e.id
		WHERE e.business_date = $1 AND `+cond+` ORDER BY e.id LIMIT $2`, day, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("reconciliation: exceptions of %s: %w", dayString(day), err)
	}
	out, err := pgx.CollectRows(rows, scanDayException)
	if err != nil {
		return nil, 0, fmt.Errorf("reconciliation: exceptions of %s: %w", dayString(day), err)
	}
	return append([]DayException{}, out...), total, nil
}

// scanDayException scans exceptionColumns and the carry's note, by and at.
func scanDayException(r pgx.CollectableRow) (DayException, error) {
	var de DayException
	x := exceptionScan{e: &de.Exception}
	var note, by *string
	var at *time.Time
	err := r.Scan(append(x.dest(), &note, &by, &at)...)
	x.done()
	if note != nil && by != nil && at != nil {
		de.Carry = &Carry{Note: *note, By: *by, At: at.UTC()}
	}
	return de, err
}

// ChainLine is one line of a gateway's settlement file and what it pays
// here: the attempt (or refund) and its order.
type ChainLine struct {
	Line         int32           `json:"line"`
	Type         string          `json:"type"`
	Reference    string          `json:"reference"`
	GatewayTxnID string          `json:"gateway_txn_id"`
	Gross        decimal.Decimal `json:"gross"`
	Fee          decimal.Decimal `json:"fee"`
	Net          decimal.Decimal `json:"net"`
	Currency     string          `json:"currency"`
	At           time.Time       `json:"at"`
	// Class is what the day's completed run found of the line (matched when
	// it has no item).
	Class      matcher.Class    `json:"class"`
	AttemptID  *uuid.UUID       `json:"attempt_id,omitempty"`
	RefundID   *uuid.UUID       `json:"refund_id,omitempty"`
	OrderID    *uuid.UUID       `json:"order_id,omitempty"`
	HereStatus string           `json:"here_status,omitempty"`
	HereAmount *decimal.Decimal `json:"here_amount,omitempty"`
}

// maxChainLines bounds one page of a settlement chain.
const maxChainLines = 500

// ChainLines returns the lines of gateway's latest settlement file of day
// after line after (0: from the first), at most limit, each with the attempt
// or refund and the order it pays here. A day without a file has none.
func (s *Service) ChainLines(ctx context.Context, gateway string, day time.Time, after int32, limit int) ([]ChainLine, error) {
	if !slices.Contains(s.cfg.Gateways, gateway) {
		return nil, fmt.Errorf("%w: %q is not a configured gateway", ErrInvalid, gateway)
	}
	if limit <= 0 || limit > maxChainLines {
		limit = maxChainLines
	}
	var fileID int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM recon_files WHERE gateway = $1 AND business_date = $2 AND status = 'loaded'
		ORDER BY revision DESC LIMIT 1`, gateway, day).Scan(&fileID)
	if errors.Is(err, pgx.ErrNoRows) {
		return []ChainLine{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reconciliation: chain of %s %s: %w", gateway, dayString(day), err)
	}
	var runID int64
	err = s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM recon_runs
		WHERE source = $1 AND business_date = $2 AND status = 'completed' AND $3 = ANY(files)`, gateway, day, fileID).Scan(&runID)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: chain of %s %s: %w", gateway, dayString(day), err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT l.line, l.type, l.reference, l.gateway_txn_id, l.gross, l.fee, l.net, l.currency, l.at,
		       coalesce(i.class, 'matched'), a.id, r.id, coalesce(a.order_id, ra.order_id),
		       coalesce(a.status, r.status, ''), coalesce(a.amount, -r.amount)
		FROM (SELECT * FROM recon_settlement_lines WHERE file_id = $1 AND line > $2 ORDER BY line LIMIT $3) l
		LEFT JOIN recon_items i ON i.run_id = $4 AND i.seq = l.line AND i.file_id = l.file_id AND i.line = l.line
		LEFT JOIN payments_recon_attempts a ON l.type = 'payment' AND a.gateway = $5 AND a.gateway_ref = l.reference
		LEFT JOIN (payments_recon_refunds r JOIN payments_recon_attempts ra ON ra.id = r.attempt_id AND ra.gateway = $5)
		       ON l.type = 'refund' AND r.gateway_refund_id = l.gateway_txn_id
		ORDER BY l.line`, fileID, after, limit, runID, gateway)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: chain of %s %s: %w", gateway, dayString(day), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChainLine, error) {
		var l ChainLine
		var here decimal.NullDecimal
		err := r.Scan(&l.Line, &l.Type, &l.Reference, &l.GatewayTxnID, &l.Gross, &l.Fee, &l.Net, &l.Currency, &l.At, &l.Class,
			&l.AttemptID, &l.RefundID, &l.OrderID, &l.HereStatus, &here)
		l.HereAmount = nullDecimal(here)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("reconciliation: chain of %s %s: %w", gateway, dayString(day), err)
	}
	return append([]ChainLine{}, out...), nil
}
