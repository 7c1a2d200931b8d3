package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
)

// ExceptionAwaitingApproval is a bank credit that would pay an order with no
// paid attempt, from a statement that did not come by the authenticated
// fetch: it is recorded only when a second treasury key approves it.
const ExceptionAwaitingApproval = "awaiting_approval"

// Errors of approvals.
var (
	// ErrNotAwaiting: the exception is not a credit waiting for approval.
	ErrNotAwaiting = errors.New("exception is not awaiting approval")
	// ErrSameApprover: the key that brought the statement cannot approve
	// what it claims (four eyes).
	ErrSameApprover = errors.New("the statement's own uploader cannot approve its credits")
)

// trustedCredits says whether a bank run's credits may pay orders at once:
// only when every file of the run came by the fetch and the fetch is
// authenticated (Config.FetchAuthenticated). Otherwise it returns who brought
// the files, whose credits then wait for someone else's approval.
func (s *Service) trustedCredits(ctx context.Context, r *Run) (trusted bool, broughtBy string, err error) {
	var allFetched bool
	err = s.pool.QueryRow(ctx, `
		SELECT coalesce(bool_and(source = $2), false), coalesce(string_agg(DISTINCT received_by, ',' ORDER BY received_by), '')
		FROM recon_files WHERE id = ANY($1)`, r.Files, rawfile.SourceFetch).Scan(&allFetched, &broughtBy)
	if err != nil {
		return false, "", fmt.Errorf("sources of run %d: %w", r.ID, err)
	}
	if broughtBy == "" {
		broughtBy = systemActor
	}
	return allFetched && s.cfg.FetchAuthenticated, broughtBy, nil
}

// holdCredits puts each open missing_here credit of the run in the approval
// queue instead of recording it, and says so in the log: the statement that
// claims them is not authenticated evidence.
func (s *Service) holdCredits(ctx context.Context, r *Run, broughtBy string) error {
	todo, err := s.openMissingHere(ctx, r.ID)
	if err != nil || len(todo) == 0 {
		return err
	}
	actor := fmt.Sprintf("%s:run:%d", systemActor, r.ID)
	for _, u := range todo {
		note := fmt.Sprintf("bank credit %s of %s %s from a statement brought by %s (not the authenticated fetch): awaits a second treasury approver",
			u.TxnID, u.Amount, u.Currency, broughtBy)
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE recon_exceptions SET status = 'awaiting_approval', approval_requested_by = $2,
				detail = $3, last_run_id = $4, updated_at = now() WHERE id = $1 AND status = 'open'`,
				u.ExceptionID, broughtBy, clipString(note, 500), r.ID)
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			return addEvent(ctx, tx, u.ExceptionID, &r.ID, "awaiting_approval", actor, note)
		})
		if err != nil {
			return fmt.Errorf("hold credit of exception %d: %w", u.ExceptionID, err)
		}
		s.log.WarnContext(ctx, "statement credit awaits a second approver", "run_id", r.ID, "exception_id", u.ExceptionID,
			"amount", u.Amount.String(), "brought_by", broughtBy)
	}
	return nil
}

// ApproveCredit records the payment a held bank credit claims, through the
// payment flow's paid path, on the word of a second treasury key: approver
// must not be the one that brought the statement. Two approvals at once
// record it once (the exception is locked, and recording is idempotent).
func (s *Service) ApproveCredit(ctx context.Context, id int64, approver, note string) (Exception, error) {
	if s.deps.Payments == nil {
		return Exception{}, fmt.Errorf("%w: no payment flow to record the credit", ErrNotConfigured)
	}
	// The note is checked before anything is recorded: the payment is
	// recorded in its own transaction, so a note the update below could not
	// store (it was cut at 2000 bytes, inside a character) left a recorded
	// payment under an exception still awaiting approval, and every retry
	// failed the same way.
	if utf8.RuneCountInString(note) > maxNote || !utf8.ValidString(note) || strings.ContainsRune(note, 0) {
		return Exception{}, fmt.Errorf("%w: a note of at most %d characters", ErrInvalid, maxNote)
	}
	var out Exception
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status, requestedBy string
		err := tx.QueryRow(ctx, `SELECT status, coalesce(approval_requested_by, '') FROM recon_exceptions WHERE id = $1 FOR UPDATE`, id).
			Scan(&status, &requestedBy)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %d", ErrExceptionNotFound, id)
		}
		if err != nil {
			return err
		}
		if status != ExceptionAwaitingApproval {
			return fmt.Errorf("%w: exception %d is %s", ErrNotAwaiting, id, status)
		}
		for _, by := range splitList(requestedBy) {
			if by == approver {
				return fmt.Errorf("%w: %s brought the statement", ErrSameApprover, approver)
			}
		}
		var u unconfirmed
		err = tx.QueryRow(ctx, `
			SELECT e.id, i.here_id, coalesce(a.gateway_ref, i.reference), coalesce(a.created_at, i.at),
			       coalesce(i.gateway_txn_id, ''), i.amount_there, i.currency, i.at
			FROM recon_exceptions e
			JOIN recon_items i ON i.exception_key = e.key AND i.run_id = e.last_run_id
			LEFT JOIN payments_recon_attempts a ON i.here_kind = 'attempt' AND a.id = i.here_id
			WHERE e.id = $1`, id).Scan(&u.ExceptionID, &u.HereID, &u.GatewayRef, &u.CreatedAt, &u.TxnID, &u.Amount, &u.Currency, &u.At)
		if err != nil {
			return fmt.Errorf("the credit of exception %d: %w", id, err)
		}
		res := creditResult(u)
		ack, err := s.deps.Payments.RecordTransfer(ctx, res, recordActor)
		if err != nil {
			return fmt.Errorf("record the credit of exception %d: %w", id, err)
		}
		if ack != gateways.AckOK && ack != gateways.AckAlreadyConfirmed {
			return fmt.Errorf("%w: the payment flow answered %s for the credit of exception %d", ErrInvalid, ack, id)
		}
		if note == "" {
			note = "credit approved by a second treasury key and recorded"
		}
		if _, err := tx.Exec(ctx, `UPDATE recon_exceptions SET status = 'resolved', resolution = 'approved_credit', note = $2,
			resolved_by = $3, resolved_at = now(), updated_at = now() WHERE id = $1`, id, note, approver); err != nil {
			return err
		}
		if err := addEvent(ctx, tx, id, nil, "approved", approver, note); err != nil {
			return err
		}
		if out, err = getException(ctx, tx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "reconciliation.credit.approve", ResourceType: "recon_exception",
			ResourceID: fmt.Sprint(id), Before: map[string]string{"status": status, "brought_by": requestedBy},
			After: map[string]any{"status": out.Status, "amount": u.Amount, "currency": u.Currency, "reference": u.GatewayRef}})
	})
	if err != nil {
		return Exception{}, fmt.Errorf("reconciliation: approve credit of exception %d: %w", id, err)
	}
	s.log.InfoContext(ctx, "statement credit approved", "exception_id", id, "approver", approver)
	return out, nil
}

// creditResult is the payment a bank credit claims: for a bank transfer the
// credit on the treasury account is the confirmation itself.
func creditResult(u unconfirmed) gateways.Result {
	return gateways.Result{GatewayRef: u.GatewayRef, GatewayTxnID: u.TxnID, Amount: u.Amount, Currency: u.Currency, Status: gateways.StatusSucceeded,
		Code: "BOOK", Message: "credited to the treasury account, bank entry " + u.TxnID, PaidAt: u.At}
}

func splitList(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
