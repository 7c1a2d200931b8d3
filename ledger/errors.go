package ledger

import (
	"errors"
	"fmt"
)

// Errors of this package. Callers match them with errors.Is; HTTPErrors maps
// them to statuses.
var (
	// ErrInvalidEntry: the entry (or posting rule input) breaks a rule of the
	// ledger. The error is a *ValidationError naming the field.
	ErrInvalidEntry = errors.New("invalid ledger entry")
	// ErrUnbalanced: the postings do not sum to zero in some currency.
	ErrUnbalanced = errors.New("entry does not balance")
	// ErrIdempotencyConflict: the key was already used for an entry with
	// different content.
	ErrIdempotencyConflict = errors.New("idempotency key already used for a different entry")
	// ErrCurrencyMismatch: a posting's currency differs from its account's.
	ErrCurrencyMismatch = errors.New("posting currency differs from the account's currency")
	// ErrAlreadyReversed: the entry has been reversed already (by another key).
	ErrAlreadyReversed = errors.New("entry already reversed")
	// ErrNotReversible: reversals themselves are not reversed; post the
	// original again under a new key instead.
	ErrNotReversible = errors.New("a reversal cannot be reversed")
	// ErrEntryNotFound and ErrAccountNotFound: no such entry or account.
	ErrEntryNotFound   = errors.New("ledger entry not found")
	ErrAccountNotFound = errors.New("ledger account not found")
	// ErrAgencyNotFound: revenue was asked for an agency the caller cannot see.
	ErrAgencyNotFound = errors.New("agency not found")
	// ErrDayClosed: the entry would take effect in a closed business day
	// (only manual adjustments are refused; other entries move to now).
	ErrDayClosed = errors.New("business day closed")
	// ErrSelfApproval: the key that asked for a manual entry approved it.
	ErrSelfApproval = errors.New("a manual entry is approved by a different key than the one that asked for it")
	// ErrRequestDecided: the manual entry request was approved or rejected already.
	ErrRequestDecided = errors.New("manual entry request already decided")
	// ErrRequestNotFound: no such manual entry request.
	ErrRequestNotFound = errors.New("manual entry request not found")
	// ErrBroken: Verify found a broken invariant; the error names it.
	ErrBroken = errors.New("ledger verification failed")
)

// ValidationError names the input field that broke a rule. It wraps
// ErrInvalidEntry (or ErrUnbalanced for an entry that does not balance).
type ValidationError struct {
	Field  string // JSON-style path, e.g. "postings[1].amount"
	Detail string
	kind   error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("ledger: %v: %s: %s", e.kind, e.Field, e.Detail)
}

func (e *ValidationError) Unwrap() error { return e.kind }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Detail: fmt.Sprintf(format, args...), kind: ErrInvalidEntry}
}
