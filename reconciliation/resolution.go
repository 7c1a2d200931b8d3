package reconciliation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/payments/reference"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// Resolutions that do something. Where Resolve records what a person did
// elsewhere, RequestResolution does it: it pays orders through the payment
// flow's normal paid path (Recorder) and posts the ledger entry the
// resolution means, once, and records the link from the exception to the
// entries (recon_resolutions). The kinds, by what the exception is:
//
//   - a gateway's settlement line (missing here, unknown, amount mismatch):
//     match it by hand to one or several attempts of that gateway, each
//     recorded paid (RecordResult) unless it is already; the line's gross
//     minus the attempts' amounts leaves or enters the gateway's clearing
//     account to the gateway's fees, suspense or the write-off account, as
//     the person chooses (write_off and accept_fee are the match to the
//     line's own attempt with the difference written off or taken as fee;
//     a line whose gross agrees and whose fee is over the contract has
//     that fee difference written off, from the gateway's fees to the
//     write-off account, within the limit);
//   - a settlement whose bank credit disagrees with its file: post it with
//     the credit as paid (Dr bank, Dr fees, Cr clearing, under the
//     settlement's own ledger key) and the difference as fee (accept_fee),
//     write-off or suspense; runs keep a settlement matched by hand;
//   - a bank credit in suspense (unknown, duplicate, wrong amount): match it
//     to one or several loaded settlements it pays (each settlement's entry,
//     and Dr suspense, Cr bank their nets), move it to one or several open
//     orders (to_order: each paid by RecordTransfer, as the bank's credit
//     pays a VietQR order; Dr suspense, Cr the VietQR clearing account), or
//     to a refund to the sender (refund_sender: Dr suspense, Cr bank, as a
//     transfer whose bank debit the bank run matches by RefundReference).
//
// A difference is written off only within Config.WriteOffLimit (VND). Every
// entry takes effect now: nothing takes effect in a closed day. A resolution
// that moves more than Config.ApprovalAmount (VND; any amount in another
// currency) waits, pending, for a second treasury user (ApproveResolution),
// never its requester; the exception stays open meanwhile and nothing else
// resolves it. At most one resolution per exception is pending or posted,
// and the exception's row is locked while it is decided, so a resolution
// retried or submitted twice at once posts once.

// ResolutionKind is what a resolution does.
type ResolutionKind string

// The resolutions that post.
const (
	ResolveMatch        ResolutionKind = "match"
	ResolveToOrder      ResolutionKind = "to_order"
	ResolveRefundSender ResolutionKind = "refund_sender"
	ResolveWriteOff     ResolutionKind = "write_off"
	ResolveAcceptFee    ResolutionKind = "accept_fee"
)

// ResolutionKinds lists them.
var ResolutionKinds = []ResolutionKind{ResolveMatch, ResolveToOrder, ResolveRefundSender, ResolveWriteOff, ResolveAcceptFee}

// resolutionNames are what each records as the exception's resolution.
var resolutionNames = map[ResolutionKind]string{
	ResolveMatch: "matched_manually", ResolveToOrder: "moved_to_order", ResolveRefundSender: "refunded_to_sender",
	ResolveWriteOff: "written_off", ResolveAcceptFee: "fee_accepted",
}

// Where the difference of a match goes.
const (
	DifferenceFee      = "fee"       // the gateway's (or, for a bank credit, VietQR's) fees
	DifferenceSuspense = "suspense"  // suspense, to be worked later
	DifferenceWriteOff = "write_off" // WriteOffAccount, within Config.WriteOffLimit
)

// Differences lists them.
var Differences = []string{DifferenceFee, DifferenceSuspense, DifferenceWriteOff}

// WriteOffAccount is where written-off differences go.
const WriteOffAccount = "expense:recon-write-offs"

// Resolution statuses.
const (
	ResolutionPending  = "pending"
	ResolutionPosted   = "posted"
	ResolutionRejected = "rejected"
)

// Errors of resolutions.
var (
	// ErrOwnRequest: the requester of a resolution cannot approve it.
	ErrOwnRequest = errors.New("a resolution is approved by another treasury user than its requester")
	// ErrNotPending: the resolution was approved or rejected already.
	ErrNotPending = errors.New("resolution is not pending")
	// ErrResolutionNotFound: no such resolution.
	ErrResolutionNotFound = errors.New("resolution not found")
)

// ResolutionRequest is a resolution as a person asks for it.
type ResolutionRequest struct {
	Kind ResolutionKind `json:"kind"`
	// Targets are what the exception is matched or moved to: attempts (id,
	// or the gateway's reference) for a settlement line; settlements
	// ("vnpay:2026-11-23") for match, orders (payment reference or id) for
	// to_order, for a bank credit. Empty: the exception's own record.
	Targets []string `json:"targets,omitempty"`
	// Difference is where an amount difference goes (Differences); required
	// when there is one.
	Difference string `json:"difference,omitempty"`
	Note       string `json:"note"`
}

// Resolution is a resolution asked for, and what became of it.
type Resolution struct {
	ID             int64             `json:"id"`
	ExceptionID    int64             `json:"exception_id"`
	Kind           ResolutionKind    `json:"kind"`
	Request        ResolutionRequest `json:"request"`
	Amount         decimal.Decimal   `json:"amount"`
	Difference     decimal.Decimal   `json:"difference"`
	Currency       string            `json:"currency"`
	Status         string            `json:"status"`
	RequestedBy    string            `json:"requested_by"`
	RequestedAt    time.Time         `json:"requested_at"`
	DecidedBy      string            `json:"decided_by,omitempty"`
	DecidedAt      *time.Time        `json:"decided_at,omitempty"`
	DecisionNote   string            `json:"decision_note,omitempty"`
	LedgerEntryIDs []int64           `json:"ledger_entry_ids"`
}

const resolutionColumns = `id, exception_id, kind, request, amount, difference, currency, status, requested_by, requested_at,
	coalesce(decided_by, ''), decided_at, coalesce(decision_note, ''), ledger_entry_ids`

func scanResolution(row pgx.Row) (Resolution, error) {
	var r Resolution
	var req []byte
	err := row.Scan(&r.ID, &r.ExceptionID, &r.Kind, &req, &r.Amount, &r.Difference, &r.Currency, &r.Status, &r.RequestedBy,
		&r.RequestedAt, &r.DecidedBy, &r.DecidedAt, &r.DecisionNote, &r.LedgerEntryIDs)
	if err == nil {
		err = json.Unmarshal(req, &r.Request)
	}
	if r.LedgerEntryIDs == nil {
		r.LedgerEntryIDs = []int64{}
	}
	return r, err
}

// Resolutions lists the resolutions asked for exception id, oldest first.
func (s *Service) Resolutions(ctx context.Context, id int64) ([]Resolution, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+resolutionColumns+` FROM recon_resolutions WHERE exception_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: resolutions of %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Resolution, error) { return scanResolution(r) })
	if err != nil {
		return nil, fmt.Errorf("reconciliation: resolutions of %d: %w", id, err)
	}
	return append([]Resolution{}, out...), nil
}

// RefundReference is the reference the bank transfer that refunds exception
// id's credit to its sender carries (as end-to-end id): the bank run matches
// the debit to the refund's ledger entry by it.
func RefundReference(id int64) string { return "RECON-RFD-" + strconv.FormatInt(id, 10) }

// maxTargets bounds a resolution's targets.
const maxTargets = 50

// checkRequest checks what needs no database and normalises the request.
func checkRequest(req ResolutionRequest) (ResolutionRequest, error) {
	if !slices.Contains(ResolutionKinds, req.Kind) {
		return req, inputError("kind", "kind_invalid", "kind %q is not one of %v", req.Kind, ResolutionKinds)
	}
	if req.Difference != "" && !slices.Contains(Differences, req.Difference) {
		return req, inputError("difference", "difference_invalid", "difference is one of %s", strings.Join(Differences, ", "))
	}
	var err error
	if req.Note, err = checkNote(req.Note); err != nil {
		return req, err
	}
	var targets []string
	for _, t := range req.Targets {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if len(t) > 100 || strings.ContainsRune(t, 0) {
			return req, inputError("targets", "target_invalid", "a target is at most 100 characters")
		}
		if slices.Contains(targets, t) {
			return req, inputError("targets", "target_invalid", "target %q is named twice", t)
		}
		targets = append(targets, t)
	}
	if len(targets) > maxTargets {
		return req, inputError("targets", "target_invalid", "at most %d targets", maxTargets)
	}
	req.Targets = targets
	return req, nil
}

// plan is what a resolution does, worked out from the exception and the
// request in the deciding transaction.
type plan struct {
	kind     ResolutionKind
	currency string
	amount   decimal.Decimal // what it moves (four eyes)
	diff     decimal.Decimal
	// feeDiff is what a line's fee is over the contract (negative: under),
	// when a write-off sends it from the gateway's fees to WriteOffAccount.
	feeDiff decimal.Decimal
	records []toRecord
	posts   []func(ctx context.Context, tx pgx.Tx, now time.Time) (ledger.Entry, error)
	// settlements matched by hand, each paid by entry posts[entry].
	settlements []manualSettlement
	linked      []linkedException
	// account and time of the bank credit (a credit's resolutions).
	bankAccount string
	bookedAt    time.Time
}

// toRecord is a payment the resolution records through the paid path.
type toRecord struct {
	gateway  string
	transfer bool // RecordTransfer (by the order's payment reference)
	res      gateways.Result
}

type manualSettlement struct {
	st    Settlement
	entry int
	// bank side as it is set: the credit's key (suffixed when the credit pays
	// several) and the amount it pays of it.
	bankKey string
	amount  decimal.Decimal
}

// linkedException is an exception the resolution resolves too (or creates
// resolved, so a later run does not raise it): the match's other side.
type linkedException struct {
	key, source, day string
	class            matcher.Class
	hereKind         string
	hereID           *uuid.UUID
	reference        string
}

// legs accumulates an entry's postings by account: positive is a debit.
type legs struct {
	order []string
	net   map[string]decimal.Decimal
}

func (l *legs) add(account string, amount decimal.Decimal) {
	if l.net == nil {
		l.net = map[string]decimal.Decimal{}
	}
	if _, ok := l.net[account]; !ok {
		l.order = append(l.order, account)
	}
	l.net[account] = l.net[account].Add(amount)
}

func (l *legs) postings(currency string) []ledger.Posting {
	var out []ledger.Posting
	for _, a := range l.order {
		n := l.net[a]
		switch n.Sign() {
		case 1:
			out = append(out, ledger.Posting{Account: a, Direction: ledger.Debit, Amount: n, Currency: currency})
		case -1:
			out = append(out, ledger.Posting{Account: a, Direction: ledger.Credit, Amount: n.Neg(), Currency: currency})
		}
	}
	return out
}

// postLegs is a poster of l (nothing when it nets to nothing).
func (p *plan) postLegs(l *legs, e ledger.NewEntry, actor string) {
	ps := l.postings(p.currency)
	if len(ps) < 2 {
		return
	}
	p.posts = append(p.posts, func(ctx context.Context, tx pgx.Tx, now time.Time) (ledger.Entry, error) {
		e.Postings, e.EffectiveAt, e.Now, e.RecordedBy = ps, now, now, clipString(actor, 100)
		return ledger.Post(ctx, tx, e)
	})
}

// differenceAccount is where mode sends a difference; gateway names the fees.
func differenceAccount(mode, gateway string) string {
	switch mode {
	case DifferenceFee:
		return ledger.GatewayFees(gateway)
	case DifferenceWriteOff:
		return WriteOffAccount
	}
	return ledger.Suspense
}

// checkDifference: a difference needs somewhere to go, and a write-off
// (of the amounts' difference and a fee's together) stays within the limit.
func (s *Service) checkDifference(p *plan, mode string) error {
	if p.diff.IsZero() && p.feeDiff.IsZero() {
		return nil
	}
	written := p.diff.Abs().Add(p.feeDiff.Abs())
	switch {
	case mode == "" && !p.diff.IsZero():
		return inputError("difference", "difference_required", "the amounts differ by %s %s: choose where the difference goes",
			p.diff, p.currency)
	case mode == DifferenceWriteOff && (p.currency != "VND" || written.GreaterThan(s.cfg.WriteOffLimit)):
		return inputError("difference", "write_off_limit", "a difference of %s %s is more than may be written off (%s VND)",
			written, p.currency, s.cfg.WriteOffLimit)
	}
	return nil
}

// difference is what a resolution records as its difference: the amounts'
// or, when they agree, the fee's.
func (p *plan) difference() decimal.Decimal {
	if p.diff.IsZero() {
		return p.feeDiff
	}
	return p.diff
}

// what an exception is, for its resolutions.
func isLine(e Exception) bool {
	return e.Source != SourceBank && e.FileID != nil && e.Line != nil && strings.Contains(e.Key, ":payment:")
}

func isSettlement(e Exception) bool {
	return e.HereKind == "settlement" && strings.HasPrefix(e.Key, "settlement:")
}

func isCredit(e Exception) bool {
	return e.Source == SourceBank && e.EntryKey != "" && e.Key == "bank:"+e.EntryKey && e.AmountThere != nil &&
		e.AmountThere.IsPositive()
}

func notApplicable(kind ResolutionKind, e Exception) error {
	return inputError("kind", "not_applicable", "%s does not apply to exception %d (%s %s)", kind, e.ID, e.Source, e.Class)
}

// planFor works out what req does to e, in tx.
func (s *Service) planFor(ctx context.Context, tx pgx.Tx, e Exception, req ResolutionRequest, actor string) (*plan, error) {
	own := req.Kind == ResolveWriteOff || req.Kind == ResolveAcceptFee
	if own {
		if len(req.Targets) > 0 {
			return nil, inputError("targets", "target_invalid", "%s applies to the exception's own record: no targets", req.Kind)
		}
		fixed := map[ResolutionKind]string{ResolveWriteOff: DifferenceWriteOff, ResolveAcceptFee: DifferenceFee}[req.Kind]
		if req.Difference != "" && req.Difference != fixed {
			return nil, inputError("difference", "difference_invalid", "%s sends the difference to %s", req.Kind, fixed)
		}
		req.Difference = fixed
	}
	var p *plan
	var err error
	switch {
	case isLine(e) && (req.Kind == ResolveMatch || own):
		p, err = s.planLine(ctx, tx, e, req, actor)
	case isSettlement(e) && (req.Kind == ResolveMatch || own):
		if len(req.Targets) > 0 {
			return nil, inputError("targets", "target_invalid", "a settlement is matched to its own bank credit: no targets")
		}
		p, err = s.planSettlement(ctx, tx, e, req, actor)
	case isCredit(e) && req.Kind == ResolveMatch:
		p, err = s.planCreditToSettlements(ctx, tx, e, req, actor)
	case isCredit(e) && (req.Kind == ResolveToOrder || req.Kind == ResolveWriteOff):
		p, err = s.planCreditToOrders(ctx, tx, e, req, actor)
	case isCredit(e) && req.Kind == ResolveRefundSender:
		p, err = s.planRefund(ctx, tx, e, actor)
	default:
		return nil, notApplicable(req.Kind, e)
	}
	if err != nil {
		return nil, err
	}
	p.kind = req.Kind
	if err := s.checkDifference(p, req.Difference); err != nil {
		return nil, err
	}
	if len(p.records) == 0 && len(p.posts) == 0 {
		p.amount = decimal.Zero // moves no money
	}
	return p, nil
}

func describe(e Exception) string {
	return fmt.Sprintf("reconciliation exception %d (%s)", e.ID, e.Key)
}

// attemptRow is an attempt as payments publishes it to reconciliation.
type attemptRow struct {
	ID, OrderID       uuid.UUID
	Gateway, Ref, Txn string
	Status, Currency  string
	Amount            decimal.Decimal
}

func findAttempt(ctx context.Context, tx pgx.Tx, gateway, target string) (attemptRow, error) {
	q := `SELECT id, order_id, gateway, gateway_ref, coalesce(gateway_txn_id, ''), status, currency, amount
		FROM payments_recon_attempts WHERE `
	var arg any = target
	if id, err := uuid.Parse(target); err == nil {
		q, arg = q+`id = $2 AND gateway = $1`, id
	} else {
		q += `gateway = $1 AND gateway_ref = $2 ORDER BY created_at DESC LIMIT 1`
	}
	var a attemptRow
	err := tx.QueryRow(ctx, q, gateway, arg).Scan(&a.ID, &a.OrderID, &a.Gateway, &a.Ref, &a.Txn, &a.Status, &a.Currency, &a.Amount)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, inputError("targets", "target_unknown", "no %s attempt %q", gateway, target)
	}
	return a, err
}

// planLine matches a gateway's settlement line to attempts of the gateway.
func (s *Service) planLine(ctx context.Context, tx pgx.Tx, e Exception, req ResolutionRequest, actor string) (*plan, error) {
	gw := e.Source
	var at time.Time
	var gross, fee decimal.Decimal
	var txn, currency, lineRef string
	err := tx.QueryRow(ctx, `SELECT at, gross, fee, gateway_txn_id, currency, reference FROM recon_settlement_lines
		WHERE file_id = $1 AND line = $2 AND type = 'payment'`, *e.FileID, *e.Line).Scan(&at, &gross, &fee, &txn, &currency, &lineRef)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notApplicable(req.Kind, e)
	}
	if err != nil {
		return nil, fmt.Errorf("line %d of file %d: %w", *e.Line, *e.FileID, err)
	}
	targets := req.Targets
	switch {
	case len(targets) > 0:
	case e.Class == matcher.Duplicate && req.Kind == ResolveMatch:
		// A line the gateway settled twice (or for an attempt another line
		// paid) pays nothing of ours: its whole gross is the difference.
	case e.Class == matcher.Duplicate:
		return nil, notApplicable(req.Kind, e)
	case e.HereKind != "attempt" || e.HereID == nil:
		return nil, inputError("targets", "targets_required", "name the attempt (or attempts) the line pays")
	default:
		targets = []string{e.HereID.String()}
	}
	p := &plan{currency: currency, amount: gross}
	sum := decimal.Zero
	seen := map[uuid.UUID]bool{}
	for i, t := range targets {
		a, err := findAttempt(ctx, tx, gw, t)
		if err != nil {
			return nil, err
		}
		if seen[a.ID] || a.Currency != currency {
			return nil, inputError("targets", "target_invalid", "attempt %s is named twice or is in %s, the line in %s", a.ID, a.Currency, currency)
		}
		seen[a.ID] = true
		sum = sum.Add(a.Amount)
		if a.Ref != lineRef {
			// No line names it: the next run would find it missing there.
			id := a.ID
			p.linked = append(p.linked, linkedException{key: gw + ":attempt:" + a.ID.String(), source: gw, day: e.BusinessDate,
				class: matcher.MissingThere, hereKind: "attempt", hereID: &id, reference: a.Ref})
		}
		if a.Status == "succeeded" {
			continue
		}
		t := txn
		if len(targets) > 1 {
			t = fmt.Sprintf("%s/%d", txn, i+1)
		}
		p.records = append(p.records, toRecord{gateway: gw, res: gateways.Result{GatewayRef: a.Ref, GatewayTxnID: t, Amount: a.Amount,
			Currency: a.Currency, Status: gateways.StatusSucceeded, Code: "MANUAL",
			Message: fmt.Sprintf("matched by hand to line %d of settlement file %d, %s", *e.Line, *e.FileID, describe(e)), PaidAt: at}})
	}
	p.amount = decimal.Max(gross, sum)
	p.diff = gross.Sub(sum)
	// A line whose gross agrees differs by its fee: written off, the fee's
	// difference from the contract leaves the gateway's fees (where the
	// settlement books the fee the file charges) for the write-off account.
	if contract, ok := s.cfg.Fees[gw]; ok && req.Kind == ResolveWriteOff && p.diff.IsZero() {
		if c, err := money.Lookup(currency); err == nil {
			p.feeDiff = fee.Sub(contract.Of(gross, c))
		}
	}
	if !p.diff.IsZero() || !p.feeDiff.IsZero() {
		var l legs
		l.add(ledger.GatewayClearing(gw), p.diff)
		l.add(differenceAccount(req.Difference, gw), p.diff.Neg())
		l.add(WriteOffAccount, p.feeDiff)
		l.add(ledger.GatewayFees(gw), p.feeDiff.Neg())
		desc := fmt.Sprintf("%s line %s: gross %s against %s here, difference to %s", gw, txn, gross, sum, req.Difference)
		if !p.feeDiff.IsZero() {
			desc += fmt.Sprintf("; fee %s, %s over the contract, written off", fee, p.feeDiff)
		}
		p.postLegs(&l, ledger.NewEntry{Key: fmt.Sprintf("recon:resolve:%d:difference", e.ID), Kind: ledger.KindAdjustment,
			Reference: fmt.Sprintf("recon-exception:%d", e.ID), Description: desc}, actor)
	}
	return p, nil
}

// planSettlement posts a settlement whose bank credit disagrees with its
// file, with the credit as paid.
func (s *Service) planSettlement(ctx context.Context, tx pgx.Tx, e Exception, req ResolutionRequest, actor string) (*plan, error) {
	parts := strings.SplitN(strings.TrimPrefix(e.Key, "settlement:"), ":", 2)
	day, err := ParseDay(parts[len(parts)-1])
	if len(parts) != 2 || err != nil {
		return nil, notApplicable(req.Kind, e)
	}
	st, err := lockSettlement(ctx, tx, parts[0], day)
	if err != nil {
		return nil, err
	}
	if err := withLatestFile(ctx, tx, &st); err != nil {
		return nil, err
	}
	if st.Status == SettlementMatched || st.LedgerEntryID != nil {
		return nil, inputError("kind", "not_applicable", "the settlement of %s %s is posted already", st.Gateway, st.BusinessDate)
	}
	if st.FileID == nil || st.BankAmount == nil || st.BankBookedAt == nil {
		return nil, inputError("kind", "not_applicable",
			"the settlement of %s %s has no file or no bank credit: match the bank's credit to it from the credit's exception",
			st.Gateway, st.BusinessDate)
	}
	credit, gross, fees := *st.BankAmount, *st.Gross, *st.Fees
	p := &plan{currency: st.Currency, amount: credit, diff: credit.Sub(*st.Net)}
	if req.Difference == DifferenceFee && gross.LessThan(credit) {
		return nil, inputError("difference", "difference_invalid", "the bank credited %s, more than the gross %s: not a fee", credit, gross)
	}
	var l legs
	l.add(ledger.TreasuryBank(st.BankAccount), credit)
	l.add(ledger.GatewayFees(st.Gateway), fees)
	l.add(ledger.GatewayClearing(st.Gateway), gross.Neg())
	l.add(differenceAccount(req.Difference, st.Gateway), p.diff.Neg())
	p.settlements = append(p.settlements, manualSettlement{st: st, entry: len(p.posts), bankKey: st.BankEntryKey, amount: credit})
	p.postLegs(&l, ledger.NewEntry{Key: "recon:settlement:" + st.Gateway + ":" + st.BusinessDate, Kind: ledger.KindSettlement,
		Reference:   "settlement-file:" + st.SettlementFileID,
		Description: fmt.Sprintf("settlement from %s, credit %s against net %s resolved by hand (%s)", st.Gateway, credit, st.Net, describe(e))}, actor)
	return p, nil
}

// creditInSuspense reads a bank credit's account and time, and requires its
// amount to be in suspense.
func creditInSuspense(ctx context.Context, tx pgx.Tx, e Exception, p *plan) (txn string, err error) {
	var kind string
	err = tx.QueryRow(ctx, `SELECT p.kind, b.account, b.booked_at, CASE WHEN b.acct_svcr_ref <> '' THEN b.acct_svcr_ref ELSE b.entry_key END
		FROM recon_bank_postings p
		CROSS JOIN LATERAL (SELECT account, booked_at, acct_svcr_ref, entry_key FROM recon_bank_entries
		                    WHERE entry_key = p.entry_key ORDER BY file_id DESC LIMIT 1) b
		WHERE p.entry_key = $1`, e.EntryKey).Scan(&kind, &p.bankAccount, &p.bookedAt, &txn)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && kind != "suspense") {
		return "", inputError("kind", "not_in_suspense", "bank credit %s is not in suspense (run the bank's day first)", e.EntryKey)
	}
	return txn, err
}

// planCreditToSettlements matches a bank credit in suspense to the loaded,
// unpaid settlements it pays.
func (s *Service) planCreditToSettlements(ctx context.Context, tx pgx.Tx, e Exception, req ResolutionRequest, actor string) (*plan, error) {
	p := &plan{currency: e.Currency}
	if _, err := creditInSuspense(ctx, tx, e, p); err != nil {
		return nil, err
	}
	if len(req.Targets) == 0 {
		return nil, inputError("targets", "targets_required", "name the settlements the credit pays (gateway:YYYY-MM-DD)")
	}
	credit, nets := *e.AmountThere, decimal.Zero
	var firstGateway string
	seen := map[string]bool{}
	for _, t := range req.Targets {
		gw, d, ok := strings.Cut(t, ":")
		day, err := ParseDay(d)
		if !ok || err != nil || !slices.Contains(statement.Gateways(), gw) {
			return nil, inputError("targets", "target_invalid", "a settlement is gateway:YYYY-MM-DD (%s), not %q",
				strings.Join(statement.Gateways(), ", "), t)
		}
		if seen[gw+":"+dayString(day)] {
			return nil, inputError("targets", "target_invalid", "the settlement of %s is named twice", t)
		}
		seen[gw+":"+dayString(day)] = true
		st, err := lockSettlement(ctx, tx, gw, day)
		if err != nil {
			return nil, err
		}
		if err := withLatestFile(ctx, tx, &st); err != nil {
			return nil, err
		}
		switch {
		case st.FileID == nil:
			return nil, inputError("targets", "target_invalid", "no settlement file of %s is loaded", t)
		case st.Status == SettlementMatched || st.LedgerEntryID != nil || st.BankAmount != nil:
			return nil, inputError("targets", "target_invalid", "the settlement of %s is paid by another credit", t)
		case st.Currency != e.Currency:
			return nil, inputError("targets", "target_invalid", "the settlement of %s is in %s, the credit in %s", t, st.Currency, e.Currency)
		}
		if firstGateway == "" {
			firstGateway = gw
		}
		nets = nets.Add(*st.Net)
		st.BankAccount, st.BankBookedAt = p.bankAccount, &p.bookedAt
		ms := manualSettlement{st: st, entry: len(p.posts), bankKey: e.EntryKey + "#" + gw + ":" + st.BusinessDate, amount: *st.Net}
		p.settlements = append(p.settlements, ms)
		p.posts = append(p.posts, func(ctx context.Context, tx pgx.Tx, now time.Time) (ledger.Entry, error) {
			return ledger.PostSettlement(ctx, tx, ledger.Settlement{Key: "recon:settlement:" + st.Gateway + ":" + st.BusinessDate,
				Gateway: st.Gateway, TreasuryAccount: p.bankAccount, FileID: st.SettlementFileID, Currency: st.Currency,
				Gross: *st.Gross, Fees: *st.Fees, Net: *st.Net, EffectiveAt: now, Now: now})
		})
		p.linked = append(p.linked, linkedException{key: st.key(), source: gw, day: st.BusinessDate, class: matcher.MissingThere,
			hereKind: "settlement", reference: st.SettlementFileID})
	}
	p.amount, p.diff = decimal.Max(credit, nets), credit.Sub(nets)
	var l legs
	l.add(ledger.Suspense, credit)
	l.add(ledger.TreasuryBank(p.bankAccount), nets.Neg())
	l.add(differenceAccount(req.Difference, firstGateway), p.diff.Neg())
	p.postLegs(&l, ledger.NewEntry{Key: fmt.Sprintf("recon:resolve:%d:move", e.ID), Kind: ledger.KindSuspense,
		Reference:   "statement:" + e.EntryKey,
		Description: fmt.Sprintf("bank credit %s out of suspense: pays %s (%s)", e.EntryKey, strings.Join(req.Targets, ", "), describe(e))}, actor)
	return p, nil
}

// planCreditToOrders moves a bank credit in suspense to the open orders it
// pays, each recorded as the bank's transfer for it.
func (s *Service) planCreditToOrders(ctx context.Context, tx pgx.Tx, e Exception, req ResolutionRequest, actor string) (*plan, error) {
	p := &plan{currency: e.Currency}
	txn, err := creditInSuspense(ctx, tx, e, p)
	if err != nil {
		return nil, err
	}
	targets := req.Targets
	if len(targets) == 0 {
		if (e.HereKind != "order" && e.HereKind != "attempt") || e.HereID == nil {
			return nil, inputError("targets", "targets_required", "name the order (or orders) the credit pays, by payment reference")
		}
		targets = []string{e.HereID.String()}
	}
	credit, sum := *e.AmountThere, decimal.Zero
	seen := map[string]bool{}
	for i, t := range targets {
		var ref, status, currency string
		var total decimal.Decimal
		q := `SELECT reference, status, total, currency FROM payments_recon_orders WHERE reference = $1`
		var arg any = t
		if id, err := uuid.Parse(t); err == nil {
			// an order's id, or (the exception's own) an attempt's order
			q, arg = `SELECT o.reference, o.status, o.total, o.currency FROM payments_recon_orders o
				WHERE o.id = $1 OR o.id = (SELECT order_id FROM payments_recon_attempts WHERE id = $1) LIMIT 1`, id
		} else if r, err := reference.Parse(t); err == nil {
			arg = r
		} else {
			arg = strings.ToUpper(strings.Join(strings.Fields(t), ""))
		}
		err := tx.QueryRow(ctx, q, arg).Scan(&ref, &status, &total, &currency)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, inputError("targets", "target_unknown", "no order %q", t)
		}
		if err != nil {
			return nil, err
		}
		switch {
		case seen[ref]:
			return nil, inputError("targets", "target_invalid", "order %s is named twice", ref)
		case status != "open":
			return nil, inputError("targets", "target_invalid", "order %s is %s, not open", ref, status)
		case currency != e.Currency:
			return nil, inputError("targets", "target_invalid", "order %s is in %s, the credit in %s", ref, currency, e.Currency)
		}
		seen[ref] = true
		sum = sum.Add(total)
		t := txn
		if len(targets) > 1 {
			t = fmt.Sprintf("%s/%d", txn, i+1)
		}
		p.records = append(p.records, toRecord{gateway: matcher.VietQR, transfer: true, res: gateways.Result{GatewayRef: ref,
			GatewayTxnID: t, Amount: total, Currency: currency, Status: gateways.StatusSucceeded, Code: "MANUAL",
			Message: "bank credit " + e.EntryKey + " moved out of suspense by hand, " + describe(e), PaidAt: p.bookedAt}})
	}
	p.amount, p.diff = decimal.Max(credit, sum), credit.Sub(sum)
	var l legs
	l.add(ledger.Suspense, credit)
	l.add(ledger.GatewayClearing(matcher.VietQR), sum.Neg())
	l.add(differenceAccount(req.Difference, matcher.VietQR), p.diff.Neg())
	p.postLegs(&l, ledger.NewEntry{Key: fmt.Sprintf("recon:resolve:%d:move", e.ID), Kind: ledger.KindSuspense,
		Reference:   "statement:" + e.EntryKey,
		Description: fmt.Sprintf("bank credit %s out of suspense to %d order(s) (%s)", e.EntryKey, len(targets), describe(e))}, actor)
	return p, nil
}

// planRefund sends a bank credit in suspense back to its sender.
func (s *Service) planRefund(ctx context.Context, tx pgx.Tx, e Exception, actor string) (*plan, error) {
	p := &plan{currency: e.Currency, amount: *e.AmountThere}
	if _, err := creditInSuspense(ctx, tx, e, p); err != nil {
		return nil, err
	}
	var l legs
	l.add(ledger.Suspense, *e.AmountThere)
	l.add(ledger.TreasuryBank(p.bankAccount), e.AmountThere.Neg())
	p.postLegs(&l, ledger.NewEntry{Key: fmt.Sprintf("recon:resolve:%d:refund", e.ID), Kind: ledger.KindTransfer,
		Reference:   "transfer:" + RefundReference(e.ID),
		Description: fmt.Sprintf("bank credit %s refunded to its sender (%s)", e.EntryKey, describe(e))}, actor)
	return p, nil
}

// ResolutionOutcome is what asking for (or deciding) a resolution did: the
// resolution, pending or posted, and the exception.
type ResolutionOutcome struct {
	Resolution Resolution `json:"resolution"`
	Exception  Exception  `json:"exception"`
}

// needsApproval: four eyes above the configured amount.
func (s *Service) needsApproval(p *plan) bool {
	return p.amount.IsPositive() && (p.currency != "VND" || p.amount.GreaterThan(s.cfg.ApprovalAmount))
}

// RequestResolution resolves exception id (open) as req asks, on actor's
// word: at once, or, when it moves more than Config.ApprovalAmount, pending
// a second treasury user's approval (ApproveResolution).
func (s *Service) RequestResolution(ctx context.Context, id int64, req ResolutionRequest, actor string) (ResolutionOutcome, error) {
	req, err := checkRequest(req)
	if err != nil {
		return ResolutionOutcome{}, err
	}
	var out ResolutionOutcome
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := lockException(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.resolvable(e); err != nil {
			return err
		}
		p, err := s.planFor(ctx, tx, e, req, actor)
		if err != nil {
			return err
		}
		reqJSON, err := json.Marshal(req)
		if err != nil {
			return err
		}
		var resID int64
		if err := tx.QueryRow(ctx, `INSERT INTO recon_resolutions (exception_id, kind, request, amount, difference, currency, requested_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, id, req.Kind, reqJSON, p.amount, p.difference(), p.currency, actor).Scan(&resID); err != nil {
			return fmt.Errorf("record resolution: %w", err)
		}
		if !s.needsApproval(p) {
			out, err = s.execute(ctx, tx, e, resID, req, p, actor, "", "")
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE recon_exceptions SET pending_resolution_id = $2, updated_at = now() WHERE id = $1`,
			id, resID); err != nil {
			return err
		}
		note := fmt.Sprintf("%s of %s %s (resolution %d) awaits a second treasury approver: %s", req.Kind, p.amount, p.currency, resID, req.Note)
		if err := addEvent(ctx, tx, id, nil, "resolution_requested", actor, clipString(note, 2500)); err != nil {
			return err
		}
		if out.Exception, err = getException(ctx, tx, id); err != nil {
			return err
		}
		if out.Resolution, err = scanResolution(tx.QueryRow(ctx, `SELECT `+resolutionColumns+` FROM recon_resolutions WHERE id = $1`, resID)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "reconciliation.resolution.request", ResourceType: "recon_exception",
			ResourceID: strconv.FormatInt(id, 10), Before: e, After: out})
	})
	if err != nil {
		return ResolutionOutcome{}, fmt.Errorf("reconciliation: resolve exception %d: %w", id, err)
	}
	s.log.InfoContext(ctx, "reconciliation resolution", "exception_id", id, "kind", req.Kind, "status", out.Resolution.Status,
		"amount", out.Resolution.Amount.String(), "actor", actor)
	return out, nil
}

// resolvable: an exception is resolved this way while open and not already
// waiting for an approval.
func (s *Service) resolvable(e Exception) error {
	switch {
	case e.Status == ExceptionAwaitingApproval:
		return inputError("kind", "not_applicable", "exception %d is a credit awaiting approval: approve the credit", e.ID)
	case e.Status != ExceptionOpen:
		return fmt.Errorf("%w: exception %d is %s", ErrAlreadyResolved, e.ID, e.Status)
	case e.PendingResolutionID != nil:
		return fmt.Errorf("%w: resolution %d of exception %d", ErrPendingApproval, *e.PendingResolutionID, e.ID)
	}
	return nil
}

// execute does p for exception e (locked) under resolution resID, in tx:
// records the payments, posts the entries, marks settlements and the other
// side of a match, and resolves e. approver is "" when no approval was needed.
func (s *Service) execute(ctx context.Context, tx pgx.Tx, e Exception, resID int64, req ResolutionRequest, p *plan,
	requester, approver, decisionNote string) (ResolutionOutcome, error) {
	var out ResolutionOutcome
	if len(p.records) > 0 && s.deps.Payments == nil {
		return out, fmt.Errorf("%w: no payment flow to record the payments", ErrNotConfigured)
	}
	// Payments are recorded in the payment flow's own transactions (as the
	// runs record them); recording is idempotent, so a resolution that fails
	// after them and is asked again records each once.
	for _, r := range p.records {
		var ack gateways.Ack
		var err error
		if r.transfer {
			ack, err = s.deps.Payments.RecordTransfer(ctx, r.res, recordActor)
		} else {
			ack, err = s.deps.Payments.RecordResult(ctx, r.gateway, r.res, recordActor)
		}
		if err != nil {
			return out, fmt.Errorf("record %s payment %s: %w", r.gateway, r.res.GatewayRef, err)
		}
		if ack != gateways.AckOK && ack != gateways.AckAlreadyConfirmed {
			return out, inputError("targets", "target_refused", "the payment flow answered %s for %s %s", ack, r.gateway, r.res.GatewayRef)
		}
		if r.transfer {
			var id uuid.UUID
			// The attempt the transfer paid, unless a credit of the bank
			// names it (then the next bank run matches it): otherwise that
			// run would find it missing there.
			err := tx.QueryRow(ctx, `SELECT a.id FROM payments_recon_attempts a WHERE a.gateway = $1 AND a.gateway_ref = $2
				AND a.gateway_txn_id = $3 AND a.status = 'succeeded'
				AND NOT EXISTS (SELECT 1 FROM recon_bank_entries b WHERE b.payment_ref = a.gateway_ref AND b.credit
				                AND b.status = 'BOOK' AND a.gateway_txn_id IN (b.acct_svcr_ref, b.entry_key))`,
				matcher.VietQR, r.res.GatewayRef, r.res.GatewayTxnID).Scan(&id)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return out, err
			}
			if err == nil {
				p.linked = append(p.linked, linkedException{key: matcher.VietQR + ":attempt:" + id.String(), source: SourceBank,
					day: dayString(dayOf(r.res.PaidAt)), class: matcher.MissingThere, hereKind: "attempt", hereID: &id,
					reference: r.res.GatewayRef})
			}
		}
	}
	now := s.deps.Clock.Now()
	entries := make([]int64, 0, len(p.posts))
	for _, post := range p.posts {
		le, err := post(ctx, tx, now)
		if err != nil {
			return out, fmt.Errorf("post resolution %d: %w", resID, err)
		}
		entries = append(entries, le.ID)
	}
	for _, ms := range p.settlements {
		st := ms.st
		if _, err := tx.Exec(ctx, `UPDATE recon_settlements SET file_id = $3, settlement_file_id = $4, revision = $5, gross = $6,
			fees = $7, net = $8, currency = $9, bank_entry_key = $10, bank_account = $11, bank_amount = $12, bank_booked_at = $13,
			matched_by = $14, status = 'matched', detail = $15, ledger_entry_id = $16, updated_at = now()
			WHERE gateway = $1 AND business_date = $2`,
			st.Gateway, st.day(), st.FileID, nullIfEmpty(st.SettlementFileID), st.Revision, st.Gross, st.Fees, st.Net, st.Currency,
			ms.bankKey, st.BankAccount, ms.amount, st.BankBookedAt, MatchedByHand,
			clipString(fmt.Sprintf("%s by %s (%s)", req.Kind, requester, describe(e)), 500), entries[ms.entry]); err != nil {
			return out, fmt.Errorf("mark settlement %s %s: %w", st.Gateway, st.BusinessDate, err)
		}
	}
	var linked []int64
	for _, l := range p.linked {
		if l.key == e.Key {
			continue
		}
		var lid int64
		err := tx.QueryRow(ctx, `INSERT INTO recon_exceptions AS x (key, source, business_date, class, first_run_id, last_run_id,
				here_kind, here_id, reference, detail, status, resolution, note, resolved_by, resolved_at)
			VALUES ($1, $2, $3, $4, $5, $5, $6, $7, NULLIF($8, ''), $9, 'resolved', 'matched_manually', $9, $10, now())
			ON CONFLICT (key) DO UPDATE SET status = 'resolved', resolution = 'matched_manually', note = excluded.note,
				resolved_by = excluded.resolved_by, resolved_at = now(), snoozed_until = NULL, updated_at = now()
			WHERE x.status IN ('open', 'cleared') AND x.pending_resolution_id IS NULL
			RETURNING id`, l.key, l.source, mustDay(l.day), l.class, e.LastRunID, l.hereKind, l.hereID, l.reference,
			fmt.Sprintf("matched by hand with exception %d (%s)", e.ID, e.Key), requester).Scan(&lid)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("resolve %s with exception %d: %w", l.key, e.ID, err)
		}
		if err := addEvent(ctx, tx, lid, nil, "resolved", requester, fmt.Sprintf("matched_manually: with exception %d", e.ID)); err != nil {
			return out, err
		}
		linked = append(linked, lid)
	}
	if _, err := tx.Exec(ctx, `UPDATE recon_resolutions SET status = 'posted', amount = $2, difference = $3, decided_by = NULLIF($4, ''),
		decided_at = now(), decision_note = NULLIF($5, ''), ledger_entry_ids = $6 WHERE id = $1`,
		resID, p.amount, p.difference(), approver, decisionNote, entries); err != nil {
		return out, fmt.Errorf("record resolution %d: %w", resID, err)
	}
	name := resolutionNames[req.Kind]
	if _, err := tx.Exec(ctx, `UPDATE recon_exceptions SET status = 'resolved', resolution = $2, note = $3, resolved_by = $4,
		resolved_at = now(), pending_resolution_id = NULL, snoozed_until = NULL, updated_at = now() WHERE id = $1`,
		e.ID, name, req.Note, requester); err != nil {
		return out, err
	}
	if approver != "" {
		if err := addEvent(ctx, tx, e.ID, nil, "approved", approver,
			clipString(fmt.Sprintf("resolution %d approved: %s", resID, decisionNote), 2500)); err != nil {
			return out, err
		}
	}
	if err := addEvent(ctx, tx, e.ID, nil, "resolved", requester,
		clipString(fmt.Sprintf("%s: %s (ledger entries %v)", name, req.Note, entries), 2500)); err != nil {
		return out, err
	}
	var err error
	if out.Exception, err = getException(ctx, tx, e.ID); err != nil {
		return out, err
	}
	if out.Resolution, err = scanResolution(tx.QueryRow(ctx, `SELECT `+resolutionColumns+` FROM recon_resolutions WHERE id = $1`, resID)); err != nil {
		return out, err
	}
	action := "reconciliation.resolution.post"
	if approver != "" {
		action = "reconciliation.resolution.approve"
	}
	return out, audit.Record(ctx, tx, audit.Event{Action: action, ResourceType: "recon_exception",
		ResourceID: strconv.FormatInt(e.ID, 10), Before: e,
		After: map[string]any{"exception": out.Exception, "resolution": out.Resolution, "also_resolved": linked}})
}

// MatchedByHand marks a settlement a resolution matched: runs keep it.
const MatchedByHand = "manual"

// pendingResolution locks the exception of pending resolution resID, then
// the resolution, in the order RequestResolution locks them.
func pendingResolution(ctx context.Context, tx pgx.Tx, resID int64) (Exception, Resolution, error) {
	var excID int64
	err := tx.QueryRow(ctx, `SELECT exception_id FROM recon_resolutions WHERE id = $1`, resID).Scan(&excID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Exception{}, Resolution{}, fmt.Errorf("%w: %d", ErrResolutionNotFound, resID)
	}
	if err != nil {
		return Exception{}, Resolution{}, err
	}
	e, err := lockException(ctx, tx, excID)
	if err != nil {
		return e, Resolution{}, err
	}
	r, err := scanResolution(tx.QueryRow(ctx, `SELECT `+resolutionColumns+` FROM recon_resolutions WHERE id = $1 FOR UPDATE`, resID))
	if err != nil {
		return e, r, err
	}
	if r.Status != ResolutionPending {
		return e, r, fmt.Errorf("%w: resolution %d is %s", ErrNotPending, resID, r.Status)
	}
	return e, r, nil
}

// ApproveResolution posts pending resolution resID on the word of approver,
// a second treasury user (never its requester). What it does is worked out
// again from the request, as things stand now.
func (s *Service) ApproveResolution(ctx context.Context, resID int64, approver, note string) (ResolutionOutcome, error) {
	if strings.TrimSpace(note) != "" {
		var err error
		if note, err = checkNote(note); err != nil {
			return ResolutionOutcome{}, err
		}
	}
	var out ResolutionOutcome
	var moot error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, r, err := pendingResolution(ctx, tx, resID)
		if err != nil {
			return err
		}
		if approver == r.RequestedBy {
			return fmt.Errorf("%w: %s asked for resolution %d", ErrOwnRequest, approver, resID)
		}
		if e.Status != ExceptionOpen {
			// A run resolved or cleared the exception meanwhile: the request
			// is moot, and is closed as such rather than left pending.
			moot = fmt.Errorf("%w: exception %d is %s", ErrAlreadyResolved, e.ID, e.Status)
			out, err = s.reject(ctx, tx, e, resID, approver, "moot: the exception is "+e.Status)
			return err
		}
		p, err := s.planFor(ctx, tx, e, r.Request, r.RequestedBy)
		if err != nil {
			return err
		}
		if note == "" {
			note = "approved by a second treasury user"
		}
		out, err = s.execute(ctx, tx, e, resID, r.Request, p, r.RequestedBy, approver, note)
		return err
	})
	if err == nil {
		err = moot
	}
	if err != nil {
		return ResolutionOutcome{}, fmt.Errorf("reconciliation: approve resolution %d: %w", resID, err)
	}
	s.log.InfoContext(ctx, "reconciliation resolution approved", "resolution_id", resID, "exception_id", out.Exception.ID,
		"approver", approver)
	return out, nil
}

// RejectResolution turns pending resolution resID down (its requester may
// withdraw it); the exception is open to other resolutions again.
func (s *Service) RejectResolution(ctx context.Context, resID int64, decider, note string) (ResolutionOutcome, error) {
	note, err := checkNote(note)
	if err != nil {
		return ResolutionOutcome{}, err
	}
	var out ResolutionOutcome
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, _, err := pendingResolution(ctx, tx, resID)
		if err != nil {
			return err
		}
		out, err = s.reject(ctx, tx, e, resID, decider, note)
		return err
	})
	if err != nil {
		return ResolutionOutcome{}, fmt.Errorf("reconciliation: reject resolution %d: %w", resID, err)
	}
	return out, nil
}

// reject closes pending resolution resID of exception e (locked) as
// rejected by decider, in tx, with its event and audit row.
func (s *Service) reject(ctx context.Context, tx pgx.Tx, e Exception, resID int64, decider, note string) (ResolutionOutcome, error) {
	var out ResolutionOutcome
	if _, err := tx.Exec(ctx, `UPDATE recon_resolutions SET status = 'rejected', decided_by = $2, decided_at = now(),
		decision_note = $3 WHERE id = $1`, resID, decider, note); err != nil {
		return out, err
	}
	if _, err := tx.Exec(ctx, `UPDATE recon_exceptions SET pending_resolution_id = NULL, updated_at = now()
		WHERE id = $1 AND pending_resolution_id = $2`, e.ID, resID); err != nil {
		return out, err
	}
	if err := addEvent(ctx, tx, e.ID, nil, "resolution_rejected", decider,
		clipString(fmt.Sprintf("resolution %d rejected: %s", resID, note), 2500)); err != nil {
		return out, err
	}
	var err error
	if out.Exception, err = getException(ctx, tx, e.ID); err != nil {
		return out, err
	}
	if out.Resolution, err = scanResolution(tx.QueryRow(ctx, `SELECT `+resolutionColumns+` FROM recon_resolutions WHERE id = $1`, resID)); err != nil {
		return out, err
	}
	return out, audit.Record(ctx, tx, audit.Event{Action: "reconciliation.resolution.reject", ResourceType: "recon_exception",
		ResourceID: strconv.FormatInt(e.ID, 10), Before: e, After: out})
}

// Kinds lists the resolutions that may apply to e while it is open (a page
// offers them; RequestResolution still checks each against the records).
func (e Exception) Kinds() []ResolutionKind {
	if e.Status != ExceptionOpen || e.PendingResolutionID != nil {
		return nil
	}
	own := (e.HereKind == "attempt" || e.HereKind == "order") && e.HereID != nil && e.Class != matcher.Duplicate
	switch {
	case isLine(e):
		if own {
			return []ResolutionKind{ResolveMatch, ResolveWriteOff, ResolveAcceptFee}
		}
		return []ResolutionKind{ResolveMatch}
	case isSettlement(e) && e.AmountThere != nil && e.AmountHere != nil:
		return []ResolutionKind{ResolveAcceptFee, ResolveWriteOff, ResolveMatch}
	case isCredit(e):
		if own {
			return []ResolutionKind{ResolveToOrder, ResolveWriteOff, ResolveMatch, ResolveRefundSender}
		}
		return []ResolutionKind{ResolveToOrder, ResolveMatch, ResolveRefundSender}
	}
	return nil
}
