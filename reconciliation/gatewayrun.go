package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// A gateway run reconciles the latest revision of a gateway's settlement
// file of one day: every line against our attempts and refunds (matching),
// then asks the gateway about the lines it says were paid and we do not
// (resolving), then settles the day against the bank (posting).
func (s *Service) gatewaySteps() []step {
	return []step{
		{stage: stageMatching, do: s.matchGateway},
		{stage: stageResolving, do: s.resolveByQuery},
		{stage: stagePosting, do: s.settleGateway},
	}
}

// latestFile is the latest loaded revision of gateway's file for day, with
// its totals.
func latestFile(ctx context.Context, tx pgx.Tx, gateway string, day time.Time) (matcher.Implied, bool, error) {
	var f matcher.Implied
	err := tx.QueryRow(ctx, `SELECT id, line_count, gross, currency FROM recon_files
		WHERE gateway = $1 AND business_date = $2 AND status = 'loaded' ORDER BY revision DESC LIMIT 1`,
		gateway, day).Scan(&f.FileID, &f.Count, &f.Gross, &f.Currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, false, nil
	}
	if err != nil {
		return f, false, fmt.Errorf("latest file of %s %s: %w", gateway, dayString(day), err)
	}
	return f, true, nil
}

func (s *Service) matchGateway(ctx context.Context, r *Run) (string, error) {
	day := r.day()
	err := s.matchTx(ctx, r, func(tx pgx.Tx) error {
		file, ok, err := latestFile(ctx, tx, r.Source, day)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: no settlement file of %s for %s is loaded", errNoInput, r.Source, r.BusinessDate)
		}
		var nearby []int64
		for _, d := range []time.Time{day.AddDate(0, 0, -1), day.AddDate(0, 0, 1)} {
			other, ok, err := latestFile(ctx, tx, r.Source, d)
			if err != nil {
				return err
			}
			if ok {
				nearby = append(nearby, other.FileID)
			}
		}
		if err := clearItems(ctx, tx, r.ID); err != nil {
			return err
		}
		p := matcher.GatewayFile{RunID: r.ID, FileID: file.FileID, Gateway: r.Source, From: day, To: day.AddDate(0, 0, 1),
			Nearby: nearby, Currency: file.Currency, Tol: s.cfg.Tol}
		if fee, ok := s.cfg.Fees[r.Source]; ok {
			p.Fee = &fee
		}
		res, err := matcher.MatchGatewayFile(ctx, tx, p)
		if err != nil {
			return err
		}
		start := time.Now()
		if err := saveTotals(ctx, tx, r, []int64{file.FileID}, &file); err != nil {
			return err
		}
		if err := recordExceptions(ctx, tx, r); err != nil {
			return err
		}
		if err := clearFoundElsewhere(ctx, tx, r, file.FileID); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "reconciliation run matched", "run_id", r.ID, "source", r.Source, "date", r.BusinessDate,
			"file_id", file.FileID, "lines", file.Count, "not_matched", res.Exceptions, "missing_there", res.MissingThere,
			"paired_by_amount", res.Paired, "lines_ms", res.LinesTook.Milliseconds(),
			"missing_there_ms", res.MissingTook.Milliseconds(), "pair_ms", res.PairTook.Milliseconds(),
			"exceptions_ms", time.Since(start).Milliseconds())
		return setStageTx(ctx, tx, r.ID, stageResolving)
	})
	return stageResolving, err
}

// clearItems removes what an earlier attempt at matching left (nothing,
// since matching commits as one transaction with its stage; kept so that a
// repeated matching can never count a line twice).
func clearItems(ctx context.Context, tx pgx.Tx, runID int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recon_items WHERE run_id = $1`, runID); err != nil {
		return fmt.Errorf("clear items: %w", err)
	}
	return nil
}

func setStageTx(ctx context.Context, tx pgx.Tx, runID int64, stage string) error {
	if _, err := tx.Exec(ctx, `UPDATE recon_runs SET stage = $2 WHERE id = $1`, runID, stage); err != nil {
		return fmt.Errorf("stage %s: %w", stage, err)
	}
	return nil
}

// summarySeq numbers a gateway run's settlement summary item, after every
// line and record.
const summarySeq = 2 * matcher.RecordSeqBase

// settleGateway brings the day's settlement up to date with the file and
// adds its state to the run as a summary item.
func (s *Service) settleGateway(ctx context.Context, r *Run) (string, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := refuseClosed(ctx, tx, r.day()); err != nil {
			return err
		}
		st, class, err := s.settleFile(ctx, tx, r.ID, r.Source, r.day())
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recon_items WHERE run_id = $1 AND seq = $2`, r.ID, summarySeq); err != nil {
			return fmt.Errorf("clear summary: %w", err)
		}
		if class != "" {
			item := matcher.Item{Seq: summarySeq, Class: class, HereKind: matcher.SummaryKind, FileID: deref(st.FileID),
				EntryKey: st.BankEntryKey, Reference: st.SettlementFileID, AmountThere: st.BankAmount, AmountHere: st.Net,
				Currency: st.Currency, Detail: st.Detail}
			if class == matcher.Matched {
				item.MatchedBy = st.MatchedBy
			} else {
				item.ExceptionKey = st.key()
			}
			if err := matcher.InsertItems(ctx, tx, r.ID, []matcher.Item{item}); err != nil {
				return err
			}
		}
		s.log.InfoContext(ctx, "settlement evaluated", "run_id", r.ID, "gateway", st.Gateway, "date", st.BusinessDate,
			"status", st.Status, "ledger_entry_id", st.LedgerEntryID)
		return setStageTx(ctx, tx, r.ID, stageDone)
	})
	return stageDone, err
}
