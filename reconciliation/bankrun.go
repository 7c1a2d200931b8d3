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
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// A bank run reconciles the treasury account's booked entries of one day,
// whichever files (camt.054 notifications, the camt.053 statement) brought
// them: gateways' settlement credits against their files (settlement level),
// citizens' VietQR transfers against VietQR attempts, debits against the
// ledger's transfers; then records the VietQR payments the credits confirm
// (resolving) and posts what the credits mean for the ledger (posting).
func (s *Service) bankSteps() []step {
	return []step{
		{stage: stageMatching, do: s.matchBank},
		{stage: stageResolving, do: s.resolveByCredit},
		{stage: stagePosting, do: s.postBank},
	}
}

// bankEntry is one booked entry of the day (the newest file's copy of it).
type bankEntry struct {
	Key              string
	FileID           int64
	Account          string
	Amount           decimal.Decimal
	Currency         string
	Credit           bool
	BookedAt         time.Time
	AcctSvcrRef      string
	EndToEndID       string
	Remittance       string
	SettlementFileID string
}

// dayEntries lists the day's booked entries that are not VietQR credits
// (those are matched in SQL): debits, settlement credits, and credits that
// name nothing.
func dayEntries(ctx context.Context, tx pgx.Tx, day time.Time) ([]bankEntry, error) {
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT ON (entry_key) entry_key, file_id, account, amount, currency, credit, booked_at, acct_svcr_ref,
		       end_to_end_id, remittance, coalesce(settlement_file_id, '')
		FROM recon_bank_entries
		WHERE booking_date = $1 AND status = 'BOOK' AND (NOT credit OR payment_ref IS NULL)
		ORDER BY entry_key, file_id DESC`, day)
	if err != nil {
		return nil, fmt.Errorf("entries of %s: %w", dayString(day), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bankEntry, error) {
		var e bankEntry
		err := r.Scan(&e.Key, &e.FileID, &e.Account, &e.Amount, &e.Currency, &e.Credit, &e.BookedAt, &e.AcctSvcrRef,
			&e.EndToEndID, &e.Remittance, &e.SettlementFileID)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("entries of %s: %w", dayString(day), err)
	}
	return out, nil
}

// dayFiles are the loaded files that carry booked entries of the day.
func dayFiles(ctx context.Context, tx pgx.Tx, day time.Time) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT file_id FROM recon_bank_entries WHERE booking_date = $1 AND status = 'BOOK'
		ORDER BY file_id`, day)
	if err != nil {
		return nil, fmt.Errorf("files of %s: %w", dayString(day), err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("files of %s: %w", dayString(day), err)
	}
	return ids, nil
}

// overdueSeq numbers the bank run's overdue settlements, after its lines and
// its records.
const overdueSeq = 2 * matcher.RecordSeqBase

func (s *Service) matchBank(ctx context.Context, r *Run) (string, error) {
	day := r.day()
	err := s.matchTx(ctx, r, func(tx pgx.Tx) error {
		files, err := dayFiles(ctx, tx, day)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return fmt.Errorf("%w: no booked entry of %s is loaded", errNoInput, r.BusinessDate)
		}
		if err := clearItems(ctx, tx, r.ID); err != nil {
			return err
		}
		entries, err := dayEntries(ctx, tx, day)
		if err != nil {
			return err
		}
		transfers := &transferIndex{day: day, byAccount: map[string][]ledger.Entry{}}
		items := make([]matcher.Item, 0, len(entries))
		taken := make([]string, 0, len(entries))
		for i, e := range entries {
			it, err := s.classifyEntry(ctx, tx, r.ID, e, transfers)
			if err != nil {
				return err
			}
			it.Seq = int64(i + 1)
			items, taken = append(items, it), append(taken, e.Key)
		}
		if err := matcher.InsertItems(ctx, tx, r.ID, items); err != nil {
			return err
		}
		res, err := matcher.MatchBankDay(ctx, tx, matcher.BankDay{RunID: r.ID, Day: day, From: day, To: day.AddDate(0, 0, 1),
			Taken: taken, FirstSeq: int64(len(items)), Tol: s.cfg.Tol})
		if err != nil {
			return err
		}
		overdue, err := s.overdueSettlements(ctx, tx, r.ID, day, overdueSeq)
		if err != nil {
			return err
		}
		if err := matcher.InsertItems(ctx, tx, r.ID, overdue); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "reconciliation run matched", "run_id", r.ID, "source", r.Source, "date", r.BusinessDate,
			"entries", len(entries), "vietqr_credits", res.Credits, "missing_there", res.MissingThere, "overdue_settlements", len(overdue))
		if err := saveTotals(ctx, tx, r, files, nil); err != nil {
			return err
		}
		if err := recordExceptions(ctx, tx, r); err != nil {
			return err
		}
		return setStageTx(ctx, tx, r.ID, stageResolving)
	})
	return stageResolving, err
}

// classifyEntry classifies a debit, a settlement credit or a credit that
// names nothing (which may still be a settlement, by amount and date).
func (s *Service) classifyEntry(ctx context.Context, tx pgx.Tx, runID int64, e bankEntry, transfers *transferIndex) (matcher.Item, error) {
	amount := e.Amount
	if !e.Credit {
		amount = amount.Neg()
	}
	it := matcher.Item{FileID: e.FileID, EntryKey: e.Key, GatewayTxnID: e.AcctSvcrRef, At: e.BookedAt, Currency: e.Currency,
		AmountThere: &amount, Reference: e.EndToEndID}
	unknown := func(detail string) (matcher.Item, error) {
		it.Class, it.Detail, it.ExceptionKey = matcher.Unknown, clipString(detail, 500), "bank:"+e.Key
		return it, nil
	}
	if !e.Credit {
		entry, ok, err := transfers.find(ctx, tx, e)
		if err != nil {
			return it, err
		}
		if !ok {
			return unknown(fmt.Sprintf("no transfer in the ledger has reference %q or %q for %s %s",
				e.EndToEndID, e.AcctSvcrRef, e.Amount, e.Currency))
		}
		it.Class, it.MatchedBy, it.HereKind = matcher.Matched, matcher.ByReference, "transfer"
		it.Detail = fmt.Sprintf("ledger entry %d", entry.ID)
		return it, nil
	}
	gateway, day, matchedBy, err := s.settlementOf(ctx, tx, e)
	if err != nil {
		return it, err
	}
	if gateway == "" {
		return unknown("names no payment reference nor settlement file: " + e.Remittance)
	}
	st, class, taken, err := s.settleCredit(ctx, tx, runID, gateway, day,
		bankCredit{Key: e.Key, Account: e.Account, Amount: e.Amount, Currency: e.Currency, BookedAt: e.BookedAt}, matchedBy)
	if err != nil {
		return it, err
	}
	it.HereKind, it.Reference, it.AmountHere = "settlement", st.SettlementFileID, st.Net
	if it.Reference == "" {
		it.Reference = e.SettlementFileID
	}
	if !taken {
		it.Class, it.ExceptionKey = matcher.Duplicate, "bank:"+e.Key
		it.Detail = fmt.Sprintf("the settlement of %s %s is paid by bank entry %s already", gateway, dayString(day), st.BankEntryKey)
		return it, nil
	}
	it.Class, it.Detail = class, st.Detail
	if class == matcher.Matched {
		it.MatchedBy = matchedBy
	} else {
		it.ExceptionKey = st.key()
	}
	return it, nil
}

// settlementOf says which gateway's day a credit pays: the settlement file id
// in its remittance information, else the one loaded file whose net is the
// amount, of the credit's day or the SettlementDays before, not yet paid.
func (s *Service) settlementOf(ctx context.Context, tx pgx.Tx, e bankEntry) (string, time.Time, string, error) {
	if e.SettlementFileID != "" {
		id, err := statement.ParseSettlementFileID(e.SettlementFileID)
		if err == nil {
			return id.Gateway, id.BusinessDate, matcher.ByFileID, nil
		}
	}
	rows, err := tx.Query(ctx, `
		SELECT f.gateway, f.business_date FROM recon_files f
		WHERE f.status = 'loaded' AND f.gateway IS NOT NULL AND f.currency = $2 AND abs(f.net - $1) <= $3
		  AND f.business_date BETWEEN $4::date - $5::int AND $4::date
		  AND f.revision = (SELECT max(g.revision) FROM recon_files g
		                    WHERE g.status = 'loaded' AND g.gateway = f.gateway AND g.business_date = f.business_date)
		  AND NOT EXISTS (SELECT 1 FROM recon_settlements st WHERE st.gateway = f.gateway
		                  AND st.business_date = f.business_date AND st.bank_entry_key IS NOT NULL AND st.bank_entry_key <> $6)
		LIMIT 2`, e.Amount, e.Currency, s.cfg.SettlementTolerance, dayOf(e.BookedAt), s.cfg.SettlementDays, e.Key)
	if err != nil {
		return "", time.Time{}, "", fmt.Errorf("settlement by amount: %w", err)
	}
	type gd struct {
		gateway string
		day     time.Time
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gd, error) {
		var x gd
		err := r.Scan(&x.gateway, &x.day)
		return x, err
	})
	if err != nil {
		return "", time.Time{}, "", fmt.Errorf("settlement by amount: %w", err)
	}
	if len(found) != 1 {
		return "", time.Time{}, "", nil
	}
	return found[0].gateway, dbDay(found[0].day), matcher.ByAmountDate, nil
}

// transferIndex finds the ledger's transfers out of a treasury account
// around a day, read once per account.
type transferIndex struct {
	day       time.Time
	byAccount map[string][]ledger.Entry
}

// transferPage bounds one read of the ledger.
const transferPage = 1000

// find returns the transfer whose reference is the debit's end-to-end id or
// bank reference and which credits the account with the debit's amount.
func (t *transferIndex) find(ctx context.Context, tx pgx.Tx, e bankEntry) (ledger.Entry, bool, error) {
	entries, ok := t.byAccount[e.Account]
	if !ok {
		f := ledger.EntryFilter{Account: ledger.TreasuryBank(e.Account), From: t.day.AddDate(0, 0, -1),
			To: t.day.AddDate(0, 0, 2), Limit: transferPage}
		for {
			page, err := ledger.ListEntries(ctx, tx, f)
			if err != nil {
				return ledger.Entry{}, false, fmt.Errorf("transfers of %s: %w", e.Account, err)
			}
			for _, le := range page {
				if le.Kind == ledger.KindTransfer {
					entries = append(entries, le)
				}
			}
			if len(page) < transferPage {
				break
			}
			f.After = ledger.EntryCursor{EffectiveAt: page[len(page)-1].EffectiveAt, ID: page[len(page)-1].ID}
		}
		t.byAccount[e.Account] = entries
	}
	for _, le := range entries {
		if le.Reference != "transfer:"+e.EndToEndID && le.Reference != "transfer:"+e.AcctSvcrRef {
			continue
		}
		for _, p := range le.Postings {
			if p.Account == ledger.TreasuryBank(e.Account) && p.Direction == ledger.Credit && p.Amount.Equal(e.Amount) {
				return le, true, nil
			}
		}
	}
	return ledger.Entry{}, false, nil
}

// creditPosting is a bank credit of the run that the ledger does not have yet.
type creditPosting struct {
	EntryKey     string
	Kind         string // "vietqr" or "suspense"
	Account      string
	Amount       decimal.Decimal
	Currency     string
	At           time.Time
	TxnID        string
	ExceptionKey string
}

// pendingPostingsSQL lists the run's credits whose ledger entry is not made:
// a VietQR transfer matched or confirmed leaves the gateway's clearing
// account for the treasury account; a credit nobody claims (unknown, a
// duplicate, a wrong amount) goes to suspense. A settlement credit is posted
// by its settlement; a VietQR credit still unconfirmed waits.
const pendingPostingsSQL = `
SELECT i.entry_key,
       CASE WHEN i.here_kind IN ('attempt', 'order') AND (i.class = 'matched' OR (i.class = 'missing_here' AND e.status = 'auto_resolved'))
            THEN 'vietqr' ELSE 'suspense' END,
       b.account, i.amount_there, i.currency, i.at, coalesce(i.gateway_txn_id, ''), coalesce(i.exception_key, '')
FROM recon_items i
LEFT JOIN recon_exceptions e ON e.key = i.exception_key
CROSS JOIN LATERAL (SELECT account FROM recon_bank_entries WHERE entry_key = i.entry_key LIMIT 1) b
WHERE i.run_id = $1 AND i.entry_key IS NOT NULL AND i.amount_there > 0
  AND NOT EXISTS (SELECT 1 FROM recon_bank_postings p WHERE p.entry_key = i.entry_key)
  AND CASE
        WHEN i.here_kind IN ('attempt', 'order') THEN i.class <> 'missing_here' OR e.status = 'auto_resolved'
        WHEN i.here_kind = 'settlement' THEN i.class = 'duplicate'
        ELSE i.class = 'unknown'
      END
ORDER BY i.seq`

func (s *Service) postBank(ctx context.Context, r *Run) (string, error) {
	rows, err := s.pool.Query(ctx, pendingPostingsSQL, r.ID)
	if err != nil {
		return "", fmt.Errorf("pending postings: %w", err)
	}
	todo, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (creditPosting, error) {
		var p creditPosting
		err := row.Scan(&p.EntryKey, &p.Kind, &p.Account, &p.Amount, &p.Currency, &p.At, &p.TxnID, &p.ExceptionKey)
		return p, err
	})
	if err != nil {
		return "", fmt.Errorf("pending postings: %w", err)
	}
	err = forEach(ctx, s.cfg.QueryConcurrency, todo, func(p creditPosting) error { return s.postCredit(ctx, r, p) })
	return stageDone, err
}

// postCredit posts one credit and records that it did, in one transaction;
// the ledger's idempotency key makes a repeat a replay.
func (s *Service) postCredit(ctx context.Context, r *Run, p creditPosting) error {
	runID := r.ID
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := refuseClosed(ctx, tx, r.day()); err != nil {
			return err
		}
		var e ledger.Entry
		var err error
		if p.Kind == "vietqr" {
			e, err = ledger.PostSettlement(ctx, tx, ledger.Settlement{Key: "recon:vietqr:" + p.EntryKey, Gateway: matcher.VietQR,
				TreasuryAccount: p.Account, FileID: p.TxnID, Currency: p.Currency, Gross: p.Amount, Fees: decimal.Zero,
				Net: p.Amount, EffectiveAt: p.At, Now: s.deps.Clock.Now()})
		} else {
			e, err = ledger.PostSuspense(ctx, tx, ledger.SuspenseCredit{Key: "recon:suspense:" + p.EntryKey,
				TreasuryAccount: p.Account, StatementRef: p.EntryKey, Currency: p.Currency, Amount: p.Amount, EffectiveAt: p.At,
				Now: s.deps.Clock.Now()})
		}
		if errors.Is(err, ledger.ErrInvalidEntry) {
			s.log.WarnContext(ctx, "bank credit cannot be posted", "run_id", runID, "entry_key", p.EntryKey, "err", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("post %s credit %s: %w", p.Kind, p.EntryKey, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO recon_bank_postings (entry_key, kind, ledger_entry_id, run_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, p.EntryKey, p.Kind, e.ID, runID); err != nil {
			return fmt.Errorf("record posting of %s: %w", p.EntryKey, err)
		}
		if p.Kind == "suspense" && p.ExceptionKey != "" {
			if _, err := tx.Exec(ctx, `UPDATE recon_exceptions SET ledger_entry_id = $2 WHERE key = $1`, p.ExceptionKey, e.ID); err != nil {
				return fmt.Errorf("note posting of %s: %w", p.EntryKey, err)
			}
		}
		return nil
	})
}
