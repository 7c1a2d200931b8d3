package reconciliation

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// recordActor is who records a payment reconciliation confirmed, in the
// order's history.
const recordActor = "system:reconciliation"

// unconfirmed is a line paid there and not here whose exception is open: an
// attempt the gateway (or the bank) says succeeded.
type unconfirmed struct {
	ExceptionID int64
	HereID      uuid.UUID // the attempt (or, for a transfer to an order without one, the order)
	GatewayRef  string
	CreatedAt   time.Time
	TxnID       string          // the statement's gateway transaction (bank reference for VietQR)
	Amount      decimal.Decimal // what the statement says was paid
	Currency    string
	At          time.Time
}

// openMissingHere lists the run's missing_here attempts still open.
func (s *Service) openMissingHere(ctx context.Context, runID int64) ([]unconfirmed, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT e.id, i.here_id, coalesce(a.gateway_ref, i.reference), coalesce(a.created_at, i.at),
		       coalesce(i.gateway_txn_id, ''), i.amount_there, i.currency, i.at
		FROM recon_items i
		JOIN recon_exceptions e ON e.key = i.exception_key
		LEFT JOIN payments_recon_attempts a ON i.here_kind = 'attempt' AND a.id = i.here_id
		WHERE i.run_id = $1 AND i.class = 'missing_here' AND i.here_kind IN ('attempt', 'order') AND e.status = 'open'
		ORDER BY i.seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("missing here of run %d: %w", runID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (unconfirmed, error) {
		var u unconfirmed
		err := r.Scan(&u.ExceptionID, &u.HereID, &u.GatewayRef, &u.CreatedAt, &u.TxnID, &u.Amount, &u.Currency, &u.At)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("missing here of run %d: %w", runID, err)
	}
	return out, nil
}

// confirm says whether what a line claims is so, and returns the result to
// record; a note explains a refusal.
type confirm func(ctx context.Context, u unconfirmed) (res gateways.Result, ok bool, note string)

// resolveByQuery asks the gateway about each line it says was paid and we do
// not: a success for the same amount and transaction is recorded through the
// payment flow's paid path and the exception is auto-resolved.
func (s *Service) resolveByQuery(ctx context.Context, r *Run) (string, error) {
	if s.deps.Gateways == nil {
		return stagePosting, s.resolve(ctx, r, r.Source, func(context.Context, unconfirmed) (gateways.Result, bool, string) {
			return gateways.Result{}, false, "no gateway client is configured to confirm it"
		})
	}
	return stagePosting, s.resolve(ctx, r, r.Source, func(ctx context.Context, u unconfirmed) (gateways.Result, bool, string) {
		qctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
		defer cancel()
		res, err := s.deps.Gateways.Query(qctx, r.Source, gateways.QueryRequest{GatewayRef: u.GatewayRef, CreatedAt: u.CreatedAt})
		switch {
		case err != nil:
			return res, false, "status query failed: " + err.Error()
		case res.Status != gateways.StatusSucceeded:
			return res, false, fmt.Sprintf("%s says the payment is %s (%s)", r.Source, res.Status, res.Code)
		case !res.Amount.Equal(u.Amount) || res.Currency != u.Currency:
			return res, false, fmt.Sprintf("%s's status query says %s %s, the file %s %s", r.Source, res.Amount, res.Currency, u.Amount, u.Currency)
		case res.GatewayTxnID != "" && u.TxnID != "" && res.GatewayTxnID != u.TxnID:
			return res, false, fmt.Sprintf("%s's status query names transaction %s, the file %s", r.Source, res.GatewayTxnID, u.TxnID)
		}
		return res, true, "confirmed by " + r.Source + "'s status query and recorded"
	})
}

// resolveByCredit records the VietQR payments that the bank's credits
// confirm: for a bank transfer the credit on the treasury account is the
// confirmation itself — when the statement is authenticated evidence (it came
// by the authenticated fetch). Credits of an uploaded or imported statement
// wait for a second treasury key's approval (ApproveCredit).
func (s *Service) resolveByCredit(ctx context.Context, r *Run) (string, error) {
	trusted, broughtBy, err := s.trustedCredits(ctx, r)
	if err != nil {
		return "", err
	}
	if !trusted {
		return stagePosting, s.holdCredits(ctx, r, broughtBy)
	}
	return stagePosting, s.resolve(ctx, r, matcher.VietQR, func(_ context.Context, u unconfirmed) (gateways.Result, bool, string) {
		return creditResult(u), true, "confirmed by the bank's credit " + u.TxnID + " and recorded"
	})
}

// resolve confirms each open missing_here attempt of the run, a few at a
// time, and records those confirmed. A refusal is noted on the exception,
// which stays open for a later run or a person.
func (s *Service) resolve(ctx context.Context, r *Run, gateway string, check confirm) error {
	// A day closed since the matching is not resolved further (the check is
	// made again under the lock where an exception is resolved).
	if err := refuseClosed(ctx, s.pool, r.day()); err != nil {
		return err
	}
	todo, err := s.openMissingHere(ctx, r.ID)
	if err != nil || len(todo) == 0 {
		return err
	}
	actor := fmt.Sprintf("%s:run:%d", systemActor, r.ID)
	return forEach(ctx, s.cfg.QueryConcurrency, todo, func(u unconfirmed) error {
		return s.resolveOne(ctx, r, gateway, actor, u, check)
	})
}

func (s *Service) resolveOne(ctx context.Context, r *Run, gateway, actor string, u unconfirmed, check confirm) error {
	res, ok, note := check(ctx, u)
	if ok && s.deps.Payments == nil {
		ok, note = false, "confirmed, but no payment flow is configured to record it"
	}
	if ok {
		// A bank credit is matched to the order by its payment reference; a
		// gateway's confirmed line only to that gateway's attempt.
		record := func() (gateways.Ack, error) { return s.deps.Payments.RecordResult(ctx, gateway, res, recordActor) }
		if gateway == matcher.VietQR {
			record = func() (gateways.Ack, error) { return s.deps.Payments.RecordTransfer(ctx, res, recordActor) }
		}
		ack, err := record()
		switch {
		case err != nil:
			ok, note = false, "confirmed, but recording it failed: "+err.Error()
		case ack != gateways.AckOK && ack != gateways.AckAlreadyConfirmed:
			ok, note = false, "confirmed, but the payment flow answered "+ack.String()
		}
	}
	if !ok {
		s.log.WarnContext(ctx, "missing payment not resolved", "run_id", r.ID, "exception_id", u.ExceptionID,
			"here_id", u.HereID, "reason", note)
		_, err := s.pool.Exec(ctx, `UPDATE recon_exceptions SET detail = $2, updated_at = now() WHERE id = $1 AND status = 'open'`,
			u.ExceptionID, clipString(note, 500))
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := refuseClosed(ctx, tx, r.day()); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE recon_exceptions SET status = 'auto_resolved', last_run_id = $2, updated_at = now()
			WHERE id = $1 AND status = 'open'`, u.ExceptionID, r.ID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if err := addEvent(ctx, tx, u.ExceptionID, &r.ID, "auto_resolved", actor, note); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE recon_runs SET auto_resolved = auto_resolved + 1 WHERE id = $1`, r.ID)
		s.log.InfoContext(ctx, "missing payment confirmed and recorded", "run_id", r.ID, "exception_id", u.ExceptionID,
			"here_id", u.HereID, "gateway", gateway)
		return err
	})
}

// clipString cuts s to at most n bytes on a character boundary (cut inside
// one, PostgreSQL refuses the text).
func clipString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
