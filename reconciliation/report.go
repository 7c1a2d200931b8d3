package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// A closed day's report: what was closed (the totals recorded with the
// closing), who closed it, and every exception of the day with its
// resolution, as a PDF (report_pdf.go) or an XLSX workbook (report_xlsx.go).

// SourceTotals is one source of a day as its latest completed run found it.
type SourceTotals struct {
	Source  string          `json:"source"`
	RunID   int64           `json:"run_id"`
	Lines   int64           `json:"lines"`
	Classes []matcher.Total `json:"classes"`
}

// ExceptionCounts counts a day's exceptions by where they stand.
type ExceptionCounts struct {
	Total            int64 `json:"total"`
	Open             int64 `json:"open"` // open and not carried forward
	AwaitingApproval int64 `json:"awaiting_approval"`
	CarriedForward   int64 `json:"carried_forward"` // unresolved, carried forward
	Resolved         int64 `json:"resolved"`
	AutoResolved     int64 `json:"auto_resolved"`
	Cleared          int64 `json:"cleared"`
}

// DayTotals are a business day's figures, as recorded with its closing: per
// source its lines and counts per class, per gateway ours against theirs and
// the bank's (Agreement, with fees and net), the bank's booked entries, per
// agency the revenue the ledger has in the day, and the exceptions.
type DayTotals struct {
	Date       string              `json:"date"`
	Sources    []SourceTotals      `json:"sources"`
	Gateways   []Agreement         `json:"gateways"`
	Bank       []BankTotals        `json:"bank"`
	Agencies   []ledger.RevenueRow `json:"agencies"`
	Exceptions ExceptionCounts     `json:"exceptions"`
}

// dayTotals computes day's totals in db; st is the day's status.
func (s *Service) dayTotals(ctx context.Context, db ledger.DBTX, day time.Time, st DayStatus) (DayTotals, error) {
	t := DayTotals{Date: dayString(day), Sources: []SourceTotals{}, Agencies: []ledger.RevenueRow{}}
	for _, src := range s.sources() {
		id := st.Reconciled[src]
		sv := SourceTotals{Source: src, RunID: id, Classes: []matcher.Total{}}
		if id != 0 {
			if err := db.QueryRow(ctx, `SELECT lines_total FROM recon_runs WHERE id = $1`, id).Scan(&sv.Lines); err != nil {
				return t, fmt.Errorf("reconciliation: run %d: %w", id, err)
			}
			var err error
			if sv.Classes, err = runClasses(ctx, db, id); err != nil {
				return t, err
			}
		}
		t.Sources = append(t.Sources, sv)
	}
	var err error
	if t.Gateways, err = s.agreements(ctx, db, day); err != nil {
		return t, err
	}
	if t.Bank, err = bankTotals(ctx, db, day); err != nil {
		return t, err
	}
	err = ledger.Revenue(ctx, db, ledger.RevenueQuery{From: day.UTC(), To: day.AddDate(0, 0, 1).UTC(),
		GroupBy: []ledger.Dimension{ledger.ByAgency}}, func(r ledger.RevenueRow) error {
		t.Agencies = append(t.Agencies, r)
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("reconciliation: revenue of %s: %w", dayString(day), err)
	}
	c := &t.Exceptions
	err = db.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE e.status = 'open' AND c.exception_id IS NULL),
			count(*) FILTER (WHERE e.status = 'awaiting_approval' AND c.exception_id IS NULL),
			count(*) FILTER (WHERE e.status IN ('open', 'awaiting_approval') AND c.exception_id IS NOT NULL),
			count(*) FILTER (WHERE e.status = 'resolved'), count(*) FILTER (WHERE e.status = 'auto_resolved'),
			count(*) FILTER (WHERE e.status = 'cleared')
		FROM recon_exceptions e LEFT JOIN recon_exception_carries c ON c.exception_id = e.id WHERE e.business_date = $1`, day).
		Scan(&c.Total, &c.Open, &c.AwaitingApproval, &c.CarriedForward, &c.Resolved, &c.AutoResolved, &c.Cleared)
	if err != nil {
		return t, fmt.Errorf("reconciliation: exceptions of %s: %w", dayString(day), err)
	}
	return t, nil
}

// DayReport is a closed day's report.
type DayReport struct {
	Date    string           `json:"date"`
	Closing ledger.ClosedDay `json:"closing"`
	Totals  DayTotals        `json:"totals"`
	// Exceptions are every exception of the day, whatever its status, with
	// its resolution or its carry, at most reportExceptionLimit of
	// ExceptionCount.
	Exceptions     []DayException `json:"exceptions"`
	ExceptionCount int64          `json:"exception_count"`
}

// reportExceptionLimit bounds the exceptions a report lists.
const reportExceptionLimit = 5000

// DayReport returns the report of closed day day: the totals recorded with
// its closing (computed now for a closing that recorded none) and the day's
// exceptions as they stand. A day that is not closed is ledger.ErrDayNotClosed.
func (s *Service) DayReport(ctx context.Context, day time.Time) (DayReport, error) {
	st, err := s.Day(ctx, day)
	if err != nil {
		return DayReport{}, err
	}
	if st.Closed == nil {
		return DayReport{}, fmt.Errorf("%w: %s has no report before it is closed", ledger.ErrDayNotClosed, st.Date)
	}
	r := DayReport{Date: st.Date, Closing: *st.Closed}
	if raw := st.Closed.Totals; len(raw) > 2 { // not {}
		if err := json.Unmarshal(raw, &r.Totals); err != nil {
			return DayReport{}, fmt.Errorf("reconciliation: totals of %s: %w", st.Date, err)
		}
	} else if r.Totals, err = s.dayTotals(ctx, s.pool, day, st); err != nil {
		return DayReport{}, err
	}
	if r.Exceptions, r.ExceptionCount, err = s.dayExceptions(ctx, s.pool, day, false, reportExceptionLimit); err != nil {
		return DayReport{}, err
	}
	return r, nil
}
