package reconciliation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/reconciliation/statement"
)

// FileDetail is a stored file with what its load staged: for a bank file,
// each statement (or report, or notification) as the bank sent it, with
// what the parser found in it.
type FileDetail struct {
	File
	Statements []BankStatement `json:"statements,omitempty"`
	// Preview is how a file uploaded for a preview would load and match,
	// once its job has computed it.
	Preview *Preview `json:"preview,omitempty"`
}

// BankStatement is one Stmt, Rpt or Ntfctn of a loaded bank file.
type BankStatement struct {
	Seq           int            `json:"seq"`
	Kind          statement.Kind `json:"kind"`
	Version       string         `json:"version,omitempty"`
	MessageID     string         `json:"message_id"`
	StatementID   string         `json:"statement_id"`
	ElectronicSeq string         `json:"electronic_seq,omitempty"`
	CreatedAt     *time.Time     `json:"created_at,omitempty"`
	PeriodFrom    *time.Time     `json:"period_from,omitempty"`
	PeriodTo      *time.Time     `json:"period_to,omitempty"`
	Account       string         `json:"account"`
	Currency      string         `json:"currency"`
	// Opening, Closing and Interim are the booked balances given (signed:
	// negative when DBIT); Interim is a camt.052's position.
	Opening       *StatementBalance `json:"opening,omitempty"`
	Closing       *StatementBalance `json:"closing,omitempty"`
	Interim       *StatementBalance `json:"interim,omitempty"`
	Entries       int               `json:"entries"`
	BookedCredits decimal.Decimal   `json:"booked_credits"`
	BookedDebits  decimal.Decimal   `json:"booked_debits"`
	// Summary is the statement's own TxsSummry, when it has one.
	Summary *statement.Summary `json:"summary,omitempty"`
	// Unbalanced: the statement was loaded under the tolerant rule although
	// opening + booked entries ≠ closing; Difference is that sum minus the
	// closing balance, what the entries do not explain.
	Unbalanced bool                `json:"unbalanced"`
	Difference decimal.Decimal     `json:"difference"`
	Findings   []statement.Finding `json:"findings"`
}

// StatementBalance is a balance of a statement.
type StatementBalance struct {
	Type   string          `json:"type,omitempty"`
	Amount decimal.Decimal `json:"amount"`
	Date   *time.Time      `json:"date,omitempty"`
}

// FileDetail returns a stored file and, once it is loaded, its statements.
func (s *Service) FileDetail(ctx context.Context, id int64) (FileDetail, error) {
	f, err := s.File(ctx, id)
	if err != nil {
		return FileDetail{}, err
	}
	d := FileDetail{File: f}
	var preview []byte
	if err := s.pool.QueryRow(ctx, `SELECT preview FROM recon_files WHERE id = $1`, id).Scan(&preview); err != nil {
		return FileDetail{}, fmt.Errorf("reconciliation: preview of file %d: %w", id, err)
	}
	if preview != nil {
		d.Preview = new(Preview)
		if err := json.Unmarshal(preview, d.Preview); err != nil {
			return FileDetail{}, fmt.Errorf("reconciliation: preview of file %d: %w", id, err)
		}
	}
	if !f.Kind.IsCAMT() || f.Status != FileLoaded {
		return d, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT seq, kind, version, message_id, statement_id, electronic_seq, created_at, period_from, period_to, account,
		       currency, opening_type, opening, opening_date, closing, closing_date, interim, interim_at, entries,
		       booked_credits, booked_debits, summary, unbalanced, difference, findings
		FROM recon_bank_statements WHERE file_id = $1 ORDER BY seq`, id)
	if err != nil {
		return FileDetail{}, fmt.Errorf("reconciliation: statements of file %d: %w", id, err)
	}
	d.Statements, err = pgx.CollectRows(rows, scanStatement)
	if err != nil {
		return FileDetail{}, fmt.Errorf("reconciliation: statements of file %d: %w", id, err)
	}
	return d, nil
}

func scanStatement(r pgx.CollectableRow) (BankStatement, error) {
	var st BankStatement
	var openingType *string
	var opening, closing, interim decimal.NullDecimal
	var openingDate, closingDate, interimAt *time.Time
	var summary, findings []byte
	if err := r.Scan(&st.Seq, &st.Kind, &st.Version, &st.MessageID, &st.StatementID, &st.ElectronicSeq, &st.CreatedAt,
		&st.PeriodFrom, &st.PeriodTo, &st.Account, &st.Currency, &openingType, &opening, &openingDate, &closing,
		&closingDate, &interim, &interimAt, &st.Entries, &st.BookedCredits, &st.BookedDebits, &summary, &st.Unbalanced,
		&st.Difference, &findings); err != nil {
		return st, err
	}
	if opening.Valid {
		st.Opening = &StatementBalance{Amount: opening.Decimal, Date: inICT(openingDate)}
		if openingType != nil {
			st.Opening.Type = *openingType
		}
	}
	if closing.Valid {
		st.Closing = &StatementBalance{Type: statement.BalanceClosing, Amount: closing.Decimal, Date: inICT(closingDate)}
	}
	if interim.Valid {
		st.Interim = &StatementBalance{Type: statement.BalanceInterim, Amount: interim.Decimal, Date: inICT(interimAt)}
	}
	st.CreatedAt, st.PeriodFrom, st.PeriodTo = inICT(st.CreatedAt), inICT(st.PeriodFrom), inICT(st.PeriodTo)
	if summary != nil {
		st.Summary = new(statement.Summary)
		if err := json.Unmarshal(summary, st.Summary); err != nil {
			return st, fmt.Errorf("summary of statement %d: %w", st.Seq, err)
		}
	}
	if err := json.Unmarshal(findings, &st.Findings); err != nil {
		return st, fmt.Errorf("findings of statement %d: %w", st.Seq, err)
	}
	return st, nil
}

// inICT shows a stored time in the business time zone.
func inICT(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.In(statement.ICT)
	return &v
}

// BankEntry is one staged entry of a bank file, with what the bank said of
// it beyond the columns reconciliation matches on.
type BankEntry struct {
	StatementSeq     int             `json:"statement_seq"`
	Seq              int             `json:"seq"`
	EntryKey         string          `json:"entry_key"`
	Account          string          `json:"account"`
	Amount           decimal.Decimal `json:"amount"`
	Currency         string          `json:"currency"`
	Credit           bool            `json:"credit"`
	Reversal         bool            `json:"reversal"`
	Status           string          `json:"status"`
	BookedAt         *time.Time      `json:"booked_at,omitempty"`
	ValueAt          *time.Time      `json:"value_at,omitempty"`
	AcctSvcrRef      string          `json:"acct_svcr_ref,omitempty"`
	EndToEndID       string          `json:"end_to_end_id,omitempty"`
	Remittance       string          `json:"remittance,omitempty"`
	SettlementFileID string          `json:"settlement_file_id,omitempty"`
	PaymentRef       string          `json:"payment_ref,omitempty"`
	// Flags are statement.Finding codes that apply to this entry
	// (value_after_closing, booked_outside_period, …).
	Flags   []string                `json:"flags,omitempty"`
	Details *statement.EntryDetails `json:"details,omitempty"`
}

// EntryFilter selects a page of a file's entries.
type EntryFilter struct {
	// After is the cursor: entries after it (EntryCursor of the last one).
	After int64
	// Flagged keeps only entries with at least one flag.
	Flagged bool
	Limit   int
}

// EntryCursor is the cursor of an entry: its statement and entry numbers.
func EntryCursor(e BankEntry) int64 { return int64(e.StatementSeq)<<32 | int64(e.Seq) }

// FileEntries lists a loaded bank file's entries in order (a camt.052's from
// its intraday table).
func (s *Service) FileEntries(ctx context.Context, id int64, f EntryFilter) ([]BankEntry, error) {
	file, err := s.File(ctx, id)
	if err != nil {
		return nil, err
	}
	if !file.Kind.IsCAMT() {
		return nil, fmt.Errorf("%w: file %d is a settlement file, not a bank statement", ErrInvalid, id)
	}
	table := "recon_bank_entries"
	if file.Kind == statement.KindCAMT052 {
		table = "recon_intraday_entries"
	}
	rows, err := s.pool.Query(ctx, `
		SELECT stmt_seq, entry_seq, entry_key, account, amount, currency, credit, reversal, status, booked_at, value_at,
		       acct_svcr_ref, end_to_end_id, remittance, coalesce(settlement_file_id, ''), coalesce(payment_ref, ''),
		       flags, details
		FROM `+pgx.Identifier{table}.Sanitize()+`
		WHERE file_id = $1 AND (stmt_seq, entry_seq) > ($2::bigint >> 32, $2::bigint & 4294967295)
		  AND (NOT $3 OR cardinality(flags) > 0)
		ORDER BY stmt_seq, entry_seq LIMIT $4`, id, f.After, f.Flagged, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: entries of file %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (BankEntry, error) {
		var e BankEntry
		var details []byte
		if err := r.Scan(&e.StatementSeq, &e.Seq, &e.EntryKey, &e.Account, &e.Amount, &e.Currency, &e.Credit, &e.Reversal,
			&e.Status, &e.BookedAt, &e.ValueAt, &e.AcctSvcrRef, &e.EndToEndID, &e.Remittance, &e.SettlementFileID,
			&e.PaymentRef, &e.Flags, &details); err != nil {
			return e, err
		}
		e.BookedAt, e.ValueAt = inICT(e.BookedAt), inICT(e.ValueAt)
		if details != nil {
			e.Details = new(statement.EntryDetails)
			if err := json.Unmarshal(details, e.Details); err != nil {
				return e, fmt.Errorf("details of entry %d/%d: %w", e.StatementSeq, e.Seq, err)
			}
		}
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reconciliation: entries of file %d: %w", id, err)
	}
	return out, nil
}

// Position is an account's position during a business day, from the latest
// camt.052 intraday report loaded for it.
type Position struct {
	Account     string           `json:"account"`
	Currency    string           `json:"currency"`
	FileID      int64            `json:"file_id"`
	StatementID string           `json:"statement_id"`
	AsOf        time.Time        `json:"as_of"` // the interim balance's time, else the report's end or creation
	Opening     *decimal.Decimal `json:"opening,omitempty"`
	// Balance is the interim booked balance (ITBD), or the closing one when
	// the report gives no interim.
	Balance       *decimal.Decimal `json:"balance,omitempty"`
	Entries       int              `json:"entries"`
	BookedCredits decimal.Decimal  `json:"booked_credits"`
	BookedDebits  decimal.Decimal  `json:"booked_debits"`
}

// IntradayPositions are the positions of the business day from its latest
// loaded camt.052 report per account, in account order: the day view's live
// position, before the day's camt.053 closes it.
func (s *Service) IntradayPositions(ctx context.Context, day time.Time) ([]Position, error) {
	from, to := dayOf(day), dayOf(day).AddDate(0, 0, 1)
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (st.account) st.account, st.currency, st.file_id, st.statement_id,
		       coalesce(st.interim_at, st.period_to, st.created_at) AS as_of, st.opening, coalesce(st.interim, st.closing),
		       st.entries, st.booked_credits, st.booked_debits
		FROM recon_bank_statements st JOIN recon_files f ON f.id = st.file_id AND f.status = 'loaded'
		WHERE st.kind = 'camt.052' AND coalesce(st.interim_at, st.period_to, st.created_at) >= $1
		  AND coalesce(st.interim_at, st.period_to, st.created_at) < $2
		ORDER BY st.account, as_of DESC, st.file_id DESC, st.seq DESC`, from, to)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: positions of %s: %w", dayString(day), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Position, error) {
		var p Position
		var opening, balance decimal.NullDecimal
		if err := r.Scan(&p.Account, &p.Currency, &p.FileID, &p.StatementID, &p.AsOf, &opening, &balance, &p.Entries,
			&p.BookedCredits, &p.BookedDebits); err != nil {
			return p, err
		}
		p.AsOf = p.AsOf.In(statement.ICT)
		if opening.Valid {
			p.Opening = &opening.Decimal
		}
		if balance.Valid {
			p.Balance = &balance.Decimal
		}
		return p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reconciliation: positions of %s: %w", dayString(day), err)
	}
	return out, nil
}
