package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// Settlement statuses.
const (
	SettlementWaitingFile = "waiting_file" // the bank paid; the gateway's file is not in
	SettlementWaitingBank = "waiting_bank" // the file is in; the bank has not paid it (yet)
	SettlementMatched     = "matched"      // paid as the latest revision says; entry posted
	SettlementMismatch    = "mismatch"     // both are in and disagree (or cannot be posted)
)

// Settlement is the settlement level of one gateway and business day: the
// latest revision of the gateway's file against the bank credit that pays
// it. When they agree the settlement entry is posted, once (Dr treasury
// bank the credit, Dr gateway fees, Cr gateway clearing the gross).
type Settlement struct {
	Gateway          string           `json:"gateway"`
	BusinessDate     string           `json:"business_date"`
	FileID           *int64           `json:"file_id,omitempty"`
	SettlementFileID string           `json:"settlement_file_id,omitempty"`
	Revision         *int             `json:"revision,omitempty"`
	Gross            *decimal.Decimal `json:"gross,omitempty"`
	Fees             *decimal.Decimal `json:"fees,omitempty"`
	Net              *decimal.Decimal `json:"net,omitempty"`
	Currency         string           `json:"currency,omitempty"`
	BankEntryKey     string           `json:"bank_entry_key,omitempty"`
	BankAccount      string           `json:"bank_account,omitempty"`
	BankAmount       *decimal.Decimal `json:"bank_amount,omitempty"`
	BankBookedAt     *time.Time       `json:"bank_booked_at,omitempty"`
	MatchedBy        string           `json:"matched_by,omitempty"`
	Status           string           `json:"status"`
	Detail           string           `json:"detail,omitempty"`
	LedgerEntryID    *int64           `json:"ledger_entry_id,omitempty"`
	UpdatedAt        time.Time        `json:"updated_at"`
}

func (st Settlement) key() string { return "settlement:" + st.Gateway + ":" + st.BusinessDate }

func (st Settlement) day() time.Time {
	d, _ := ParseDay(st.BusinessDate)
	return d
}

const settlementColumns = `gateway, business_date, file_id, coalesce(settlement_file_id, ''), revision, gross, fees, net,
	coalesce(currency, ''), coalesce(bank_entry_key, ''), coalesce(bank_account, ''), bank_amount, bank_booked_at,
	coalesce(matched_by, ''), status, detail, ledger_entry_id, updated_at`

func scanSettlement(row pgx.Row) (Settlement, error) {
	var st Settlement
	var day time.Time
	var gross, fees, net, bank decimal.NullDecimal
	err := row.Scan(&st.Gateway, &day, &st.FileID, &st.SettlementFileID, &st.Revision, &gross, &fees, &net, &st.Currency,
		&st.BankEntryKey, &st.BankAccount, &bank, &st.BankBookedAt, &st.MatchedBy, &st.Status, &st.Detail,
		&st.LedgerEntryID, &st.UpdatedAt)
	st.BusinessDate = dayString(dbDay(day))
	st.Gross, st.Fees, st.Net, st.BankAmount = nullDecimal(gross), nullDecimal(fees), nullDecimal(net), nullDecimal(bank)
	return st, err
}

func nullDecimal(d decimal.NullDecimal) *decimal.Decimal {
	if !d.Valid {
		return nil
	}
	return &d.Decimal
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getSettlement(ctx context.Context, db queryRower, gateway string, day time.Time) (Settlement, bool, error) {
	st, err := scanSettlement(db.QueryRow(ctx, `SELECT `+settlementColumns+` FROM recon_settlements
		WHERE gateway = $1 AND business_date = $2`, gateway, day))
	if errors.Is(err, pgx.ErrNoRows) {
		return Settlement{}, false, nil
	}
	if err != nil {
		return Settlement{}, false, fmt.Errorf("reconciliation: settlement %s %s: %w", gateway, dayString(day), err)
	}
	return st, true, nil
}

// lockSettlement returns the settlement of gateway and day, created if new,
// locked for the rest of tx.
func lockSettlement(ctx context.Context, tx pgx.Tx, gateway string, day time.Time) (Settlement, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO recon_settlements (gateway, business_date, status) VALUES ($1, $2, 'waiting_file')
		ON CONFLICT DO NOTHING`, gateway, day); err != nil {
		return Settlement{}, fmt.Errorf("reconciliation: settlement %s %s: %w", gateway, dayString(day), err)
	}
	st, err := scanSettlement(tx.QueryRow(ctx, `SELECT `+settlementColumns+` FROM recon_settlements
		WHERE gateway = $1 AND business_date = $2 FOR UPDATE`, gateway, day))
	if err != nil {
		return Settlement{}, fmt.Errorf("reconciliation: settlement %s %s: %w", gateway, dayString(day), err)
	}
	return st, nil
}

// withLatestFile fills the file side from the latest loaded revision of the
// day, if any.
func withLatestFile(ctx context.Context, tx pgx.Tx, st *Settlement) error {
	var gross, fees, net decimal.Decimal
	var id int64
	var rev int
	err := tx.QueryRow(ctx, `SELECT id, settlement_file_id, revision, gross, fees, net, currency FROM recon_files
		WHERE gateway = $1 AND business_date = $2 AND status = 'loaded' ORDER BY revision DESC LIMIT 1`,
		st.Gateway, st.day()).Scan(&id, &st.SettlementFileID, &rev, &gross, &fees, &net, &st.Currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reconciliation: latest file of %s %s: %w", st.Gateway, st.BusinessDate, err)
	}
	st.FileID, st.Revision, st.Gross, st.Fees, st.Net = &id, &rev, &gross, &fees, &net
	return nil
}

// bankCredit is a booked credit on the treasury account.
type bankCredit struct {
	Key      string
	Account  string
	Amount   decimal.Decimal
	Currency string
	BookedAt time.Time
}

// settleFile brings the settlement of gateway and day up to date with its
// latest file, in tx, and returns it with the class its state gives the day
// (matched, amount_mismatch; "" while it waits for the bank).
func (s *Service) settleFile(ctx context.Context, tx pgx.Tx, runID int64, gateway string, day time.Time) (Settlement, matcher.Class, error) {
	st, err := lockSettlement(ctx, tx, gateway, day)
	if err != nil {
		return st, "", err
	}
	if st.byHand() {
		return st, matcher.Matched, nil
	}
	if err := withLatestFile(ctx, tx, &st); err != nil {
		return st, "", err
	}
	class, err := s.evaluate(ctx, tx, runID, &st)
	return st, class, err
}

// byHand says a person matched the settlement (a resolution): it was posted
// as they decided, and runs keep it so.
func (st Settlement) byHand() bool {
	return st.MatchedBy == MatchedByHand && st.Status == SettlementMatched
}

// settleCredit ties a bank credit to the settlement of gateway and day, in
// tx. taken is false when another credit already pays that settlement.
func (s *Service) settleCredit(ctx context.Context, tx pgx.Tx, runID int64, gateway string, day time.Time,
	c bankCredit, matchedBy string) (st Settlement, class matcher.Class, taken bool, err error) {
	st, err = lockSettlement(ctx, tx, gateway, day)
	if err != nil {
		return st, "", false, err
	}
	if st.BankEntryKey != "" && st.BankEntryKey != c.Key {
		return st, matcher.Duplicate, false, nil
	}
	if st.byHand() {
		return st, matcher.Matched, true, nil
	}
	st.BankEntryKey, st.BankAccount, st.BankAmount, st.BankBookedAt, st.MatchedBy = c.Key, c.Account, &c.Amount, &c.BookedAt, matchedBy
	if st.Currency == "" {
		st.Currency = c.Currency
	}
	if err := withLatestFile(ctx, tx, &st); err != nil {
		return st, "", false, err
	}
	class, err = s.evaluate(ctx, tx, runID, &st)
	return st, class, true, err
}

// evaluate decides the settlement's status, posts the entry when the bank
// paid what the latest revision says, raises or settles its exception, and
// saves it. The class is what the state means for a line.
func (s *Service) evaluate(ctx context.Context, tx pgx.Tx, runID int64, st *Settlement) (matcher.Class, error) {
	var class matcher.Class
	switch {
	case st.FileID == nil && st.BankAmount == nil:
		return "", nil
	case st.FileID == nil:
		st.Status, class = SettlementWaitingFile, matcher.MissingHere
		st.Detail = fmt.Sprintf("the bank credited %s %s; no settlement file of %s %s is loaded yet",
			st.BankAmount, st.Currency, st.Gateway, st.BusinessDate)
	case st.BankAmount == nil:
		st.Status, st.Detail = SettlementWaitingBank, "waiting for the bank's credit of "+st.SettlementFileID
	default:
		var err error
		if class, err = s.post(ctx, tx, st); err != nil {
			return "", err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE recon_settlements SET file_id = $3, settlement_file_id = $4, revision = $5, gross = $6,
		fees = $7, net = $8, currency = NULLIF($9, ''), bank_entry_key = NULLIF($10, ''), bank_account = NULLIF($11, ''),
		bank_amount = $12, bank_booked_at = $13, matched_by = NULLIF($14, ''), status = $15, detail = $16,
		ledger_entry_id = $17, updated_at = now() WHERE gateway = $1 AND business_date = $2`,
		st.Gateway, st.day(), st.FileID, nullIfEmpty(st.SettlementFileID), st.Revision, st.Gross, st.Fees, st.Net,
		st.Currency, st.BankEntryKey, st.BankAccount, st.BankAmount, st.BankBookedAt, st.MatchedBy, st.Status,
		st.Detail, st.LedgerEntryID); err != nil {
		return "", fmt.Errorf("reconciliation: save settlement %s %s: %w", st.Gateway, st.BusinessDate, err)
	}
	switch class {
	case "":
		return class, nil
	case matcher.Matched:
		return class, s.settleException(ctx, tx, runID, st.key(), "settlement matched: "+st.SettlementFileID)
	default:
		return class, s.raise(ctx, tx, runID, settlementException(*st, class, st.Detail))
	}
}

// post compares the bank credit with the latest revision's net and, when
// they agree, posts the settlement entry under a key of its own (gateway
// and day): a second run replays it; a later revision with other amounts
// cannot post again and is a mismatch for a person to correct.
func (s *Service) post(ctx context.Context, tx pgx.Tx, st *Settlement) (matcher.Class, error) {
	diff := st.BankAmount.Sub(*st.Net)
	if diff.Abs().GreaterThan(s.cfg.SettlementTolerance) {
		st.Status = SettlementMismatch
		st.Detail = fmt.Sprintf("the bank credited %s, %s (revision %d) nets %s: difference %s %s",
			st.BankAmount, st.SettlementFileID, *st.Revision, st.Net, diff, st.Currency)
		return matcher.AmountMismatch, nil
	}
	e, err := ledger.PostSettlement(ctx, tx, ledger.Settlement{
		Key: "recon:settlement:" + st.Gateway + ":" + st.BusinessDate, Gateway: st.Gateway, TreasuryAccount: st.BankAccount,
		FileID: st.SettlementFileID, Currency: st.Currency, Gross: *st.Gross, Fees: st.Gross.Sub(*st.BankAmount),
		Net: *st.BankAmount, EffectiveAt: *st.BankBookedAt, Now: s.deps.Clock.Now(),
	})
	switch {
	case errors.Is(err, ledger.ErrIdempotencyConflict):
		st.Status = SettlementMismatch
		st.Detail = fmt.Sprintf("the settlement of %s %s was posted (entry %s) with other amounts than %s revision %d: "+
			"reverse that entry and run the day again", st.Gateway, st.BusinessDate, entryRef(st.LedgerEntryID), st.SettlementFileID, *st.Revision)
		return matcher.AmountMismatch, nil
	case errors.Is(err, ledger.ErrInvalidEntry):
		st.Status = SettlementMismatch
		st.Detail = fmt.Sprintf("%s cannot be posted as a settlement (gross %s, credit %s): %v; post it by hand",
			st.SettlementFileID, st.Gross, st.BankAmount, err)
		return matcher.AmountMismatch, nil
	case err != nil:
		return "", err
	}
	st.Status, st.Detail, st.LedgerEntryID = SettlementMatched, "", &e.ID
	return matcher.Matched, nil
}

func entryRef(id *int64) string {
	if id == nil {
		return "?"
	}
	return fmt.Sprint(*id)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// settlementException is the exception of a settlement in state class.
func settlementException(st Settlement, class matcher.Class, detail string) Exception {
	return Exception{Key: st.key(), Source: st.Gateway, BusinessDate: st.BusinessDate, Class: class, HereKind: "settlement",
		Reference: st.SettlementFileID, EntryKey: st.BankEntryKey, AmountThere: st.BankAmount, AmountHere: st.Net,
		Currency: st.Currency, Detail: detail, FileID: st.FileID}
}

// overdueSettlements raises missing_there for settlements whose file has been
// in for SettlementDays days of bank statements without a credit: the bank
// run of day calls it. It returns the items for that run, numbered from seq.
func (s *Service) overdueSettlements(ctx context.Context, tx pgx.Tx, runID int64, day time.Time, seq int64) ([]matcher.Item, error) {
	rows, err := tx.Query(ctx, `SELECT gateway, business_date FROM recon_settlements
		WHERE status = 'waiting_bank' AND business_date <= $1 ORDER BY business_date, gateway`,
		day.AddDate(0, 0, -s.cfg.SettlementDays))
	if err != nil {
		return nil, fmt.Errorf("reconciliation: overdue settlements: %w", err)
	}
	type gd struct {
		gateway string
		day     time.Time
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gd, error) {
		var x gd
		err := r.Scan(&x.gateway, &x.day)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("reconciliation: overdue settlements: %w", err)
	}
	var items []matcher.Item
	for _, d := range due {
		st, err := lockSettlement(ctx, tx, d.gateway, dbDay(d.day))
		if err != nil {
			return nil, err
		}
		if st.Status != SettlementWaitingBank || st.Net == nil || !st.Net.IsPositive() {
			continue
		}
		detail := fmt.Sprintf("no bank credit pays %s (net %s %s) by %s", st.SettlementFileID, st.Net, st.Currency, dayString(day))
		if err := s.raise(ctx, tx, runID, settlementException(st, matcher.MissingThere, detail)); err != nil {
			return nil, err
		}
		seq++
		items = append(items, matcher.Item{Seq: seq, Class: matcher.MissingThere, HereKind: "settlement", FileID: deref(st.FileID),
			Reference: st.SettlementFileID, AmountHere: st.Net, Currency: st.Currency, Detail: detail, ExceptionKey: st.key()})
	}
	return items, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
