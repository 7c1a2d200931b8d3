package staging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/payments/reference"
	"github.com/civicpay/civicpay/reconciliation/staging"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

var day = time.Date(2026, time.November, 23, 0, 0, 0, 0, statement.ICT)

// inTx runs fn in a transaction that is rolled back.
func inTx(t *testing.T, pool *pgxpool.Pool, fn func(tx pgx.Tx)) {
	t.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	fn(tx)
}

func settlement(t *testing.T, lines int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := statement.NewSettlementWriter(statement.GatewayMoMo, &b, statement.SettlementFile{BusinessDate: day})
	if err != nil {
		t.Fatal(err)
	}
	for i := range lines {
		if err := w.Write(statement.SettlementLine{GatewayTxnID: fmt.Sprint(4000000 + i), Reference: fmt.Sprintf("ATT%d", i),
			Type: statement.TypePayment, Gross: decimal.NewFromInt(10_000), Fee: decimal.NewFromInt(150),
			Net: decimal.NewFromInt(9_850), At: day.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestASettlementFileIsStagedLineByLineWithProgress(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	const lines = 120_000
	data := settlement(t, lines)
	inTx(t, pool, func(tx pgx.Tx) {
		var progress []int64
		f, err := staging.LoadSettlement(ctx, tx, 7, statement.GatewayMoMo, bytes.NewReader(data), func(n int64) { progress = append(progress, n) })
		if err != nil {
			t.Fatal(err)
		}
		if f.Count != lines || f.FileID != "STL-MOMO-20261123-R1" || !f.Net.Equal(decimal.NewFromInt(9_850*lines)) {
			t.Fatalf("file %+v", f)
		}
		if want := []int64{50_000, 100_000, lines}; !slices.Equal(progress, want) {
			t.Fatalf("progress %v, want %v", progress, want)
		}
		var n int64
		var net decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT count(*), sum(net) FROM recon_settlement_lines WHERE file_id = 7`).Scan(&n, &net); err != nil ||
			n != lines || !net.Equal(f.Net) {
			t.Fatalf("staged %d lines, net %s, %v", n, net, err)
		}
	})
}

func entry(amount int64, ref string, texts ...string) statement.Entry {
	return statement.Entry{Amount: decimal.NewFromInt(amount), Currency: "VND", Credit: true, Status: statement.StatusBooked,
		BookingDate: day, ValueDate: day, AcctSvcrRef: ref, TxDetails: []statement.TxDetail{{RemittanceInfo: texts}}}
}

func camt(t *testing.T, kind statement.Kind, entries ...statement.Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	st := statement.Statement{MessageID: "M", StatementID: "S", Created: day.Add(23 * time.Hour), Account: "0011004123456", Currency: "VND"}
	write := statement.WriteCAMT054
	if kind == statement.KindCAMT053 {
		st.Opening = &statement.Balance{Type: statement.BalanceOpening, Amount: decimal.Zero, Currency: "VND", Date: day}
		write = statement.WriteCAMT053
	}
	if err := write(&b, st, entries); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBankEntriesKeepOneIdentityAcrossNotificationAndStatement(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	ref, err := reference.FromBody("123456789012345")
	if err != nil {
		t.Fatal(err)
	}
	entries := []statement.Entry{
		entry(250_000, "B1", "MBVCB.1.CK "+ref+" NOP PHI"),
		entry(9_000_000, "B2", "CK TU VNPAY STL VNPAY 20261122 R1 /REF 88"),
		entry(5_000, "", "CK NHAM"), // no bank reference, twice
		entry(5_000, "", "CK NHAM"),
	}
	keys := map[int64][]string{}
	inTx(t, pool, func(tx pgx.Tx) {
		for id, kind := range map[int64]statement.Kind{1: statement.KindCAMT054, 2: statement.KindCAMT053} {
			f, err := staging.LoadCAMT(ctx, tx, id, bytes.NewReader(camt(t, kind, entries...)),
				staging.BankOptions{Kind: kind, ValidRef: reference.Valid}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if f.Entries != 4 || len(f.Days) != 1 || !f.Days[0].Date.Equal(day) || f.Days[0].Entries != 4 {
				t.Fatalf("%s: %+v", kind, f)
			}
			rows, err := tx.Query(ctx, `SELECT entry_key, coalesce(payment_ref, ''), coalesce(settlement_file_id, '')
				FROM recon_bank_entries WHERE file_id = $1 ORDER BY entry_seq`, id)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var key, pay, stl string
				if err := rows.Scan(&key, &pay, &stl); err != nil {
					t.Fatal(err)
				}
				keys[id] = append(keys[id], key+"|"+pay+"|"+stl)
			}
			rows.Close()
		}
	})
	if !slices.Equal(keys[1], keys[2]) || len(keys[1]) != 4 {
		t.Fatalf("notification %v, statement %v", keys[1], keys[2])
	}
	want := []string{"ref:0011004123456:B1|" + ref + "|", "ref:0011004123456:B2||STL-VNPAY-20261122-R1"}
	if !slices.Equal(keys[1][:2], want) || keys[1][2] == keys[1][3] {
		t.Fatalf("keys %v, want %v then two distinct", keys[1], want)
	}
}

func TestABadFileFailsTheLoad(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	good := camt(t, statement.KindCAMT053, entry(100, "B1"))
	unbalanced := bytes.Replace(good, []byte(">100<"), []byte(">90<"), 1) // the closing balance
	truncated := settlement(t, 3)
	truncated = truncated[:bytes.LastIndex(truncated, []byte("TOTAL"))]
	for _, c := range []struct {
		name string
		load func(tx pgx.Tx) error
		want error
	}{
		{"unbalanced camt.053", func(tx pgx.Tx) error {
			_, err := staging.LoadCAMT(ctx, tx, 1, bytes.NewReader(unbalanced),
				staging.BankOptions{Kind: statement.KindCAMT053, ValidRef: reference.Valid}, nil)
			return err
		}, statement.ErrUnbalanced},
		{"settlement without its trailer", func(tx pgx.Tx) error {
			_, err := staging.LoadSettlement(ctx, tx, 2, statement.GatewayMoMo, bytes.NewReader(truncated), nil)
			return err
		}, statement.ErrTrailer},
	} {
		inTx(t, pool, func(tx pgx.Tx) {
			if err := c.load(tx); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		})
	}
}

// sample reads one of the statement package's bank files.
func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "statement", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBankFilesAreStagedAsSent(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	type stmtRow struct {
		Kind, Currency, OpeningType, Findings string
		Opening, Closing, Interim, Difference *decimal.Decimal
		Unbalanced                            bool
		Summary                               *string
		PeriodTo, InterimAt                   *time.Time
	}
	tests := []struct {
		name     string
		file     string
		opt      staging.BankOptions
		wantErr  error
		table    string   // where the entries go
		days     int      // booking days to reconcile
		stmt     string   // the first statement row, printed
		entries  []string // each entry's seq, flags, value date and details, printed
		notInRun bool
	}{
		{name: "strict refuses the unbalanced statement", file: "camt053_tolerant.xml",
			opt: staging.BankOptions{Kind: statement.KindCAMT053}, wantErr: statement.ErrUnbalanced},
		{name: "tolerant stages it, flagged", file: "camt053_tolerant.xml", opt: staging.BankOptions{Kind: statement.KindCAMT053, Tolerant: true},
			table: "recon_bank_entries", days: 2,
			stmt: `camt.053 VND OPBD open=500000000 close=602000000 interim=<nil> unbalanced=true by 7500000 summary=true ` +
				`findings=["value_after_closing" "booked_outside_period" "unbalanced"]`,
			entries: []string{
				`1 [] 2026-11-23 {"bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "DMCT"}, "entry_ref": "1", "transactions": [{"amount": "120000000", "tx_id": "FT26327A1B2C3", "currency": "VND", "credit_debit": "CRDT", "end_to_end_id": "STL-VNPAY-20261122-R1", "related_parties": {"debtor": "CONG TY CP GIAI PHAP THANH TOAN VIET NAM", "debtor_account": "0691000123456"}, "remittance_info": ["VNPAY QUYET TOAN STL-VNPAY-20261122-R1"]}]}`,
				`2 [] 2026-11-23 {"bank_tx_code": {"domain": "PMNT", "family": "ICDT", "sub_family": "DMCT"}, "entry_ref": "2"}`,
				`3 [value_after_closing] 2026-11-24 {"bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "DMCT"}, "entry_ref": "3"}`,
				`4 [booked_outside_period] 2026-11-22 {"entry_ref": "4", "bank_tx_code": {"proprietary": "BS_DIEU_CHINH", "proprietary_issuer": "TCB"}}`,
				`1 [] 2026-11-23 {"bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "XBCT"}}`,
			}},
		{name: "returns, charges, exchange", file: "camt053_returns.xml", opt: staging.BankOptions{Kind: statement.KindCAMT053},
			table: "recon_bank_entries", days: 1,
			stmt: `camt.053 VND PRCD open=10000000 close=12738050 interim=<nil> unbalanced=false by 0 summary=true ` +
				`findings=["value_after_closing" "direction_disagrees"]`,
			entries: []string{
				`1 [] 2026-11-23 {"charges": {"total": "1.5", "records": [{"type": "CORR", "amount": "1.5", "bearer": "SHAR", "currency": "USD", "included": true, "credit_debit": "DBIT"}], "total_currency": "USD"}, "entry_ref": "0001", "bank_tx_code": {"domain": "PMNT", "family": "ICDT", "sub_family": "RRTN", "proprietary": "TRA_VE_NN"}, "transactions": [{"uetr": "eb6305c9-1f7f-49de-aed0-16487c27b42d", "tx_id": "VCB26327RTN0001", "amount": "2543050", "return": {"reason": "AC04", "originator": "COMMERZBANK AG", "additional_info": ["ACCOUNT CLOSED", "FUNDS RETURNED LESS CHARGES"]}, "currency": "VND", "instr_id": "KBNN-XB-20261118-7", "credit_debit": "CRDT", "end_to_end_id": "KBNN-XB-20261118-7", "amount_details": {"instructed": "100", "exchange_rate": "25430.5", "unit_currency": "USD", "source_currency": "USD", "target_currency": "VND", "instructed_currency": "USD"}, "remittance_info": ["INVOICE 2026-118 CONFERENCE FEE"], "related_parties": {"debtor": "KHO BAC NHA NUOC HA NOI", "creditor": "ACME GMBH", "debtor_account": "0071001234567", "creditor_account": "DE89370400440532013000", "ultimate_creditor": "ACME HOLDING AG"}}], "amount_details": {"instructed": "100", "transaction": "2543050", "instructed_currency": "USD", "transaction_currency": "VND"}}`,
				`2 [] 2026-11-23 {"entry_ref": "0002", "bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "RRTN"}, "transactions": [{"tx_id": "FT26327000456", "amount": "250000", "return": {"reason": "DUPL", "additional_info": ["GHI CO TRUNG FT26327000456"]}, "currency": "VND", "credit_debit": "DBIT", "creditor_refs": [{"ref": "RF18539007547034", "type": "SCOR"}], "end_to_end_id": "NOTPROVIDED", "related_parties": {"debtor": "NGUYEN VAN A", "debtor_account": "0451000123456"}}]}`,
				`3 [] 2026-11-23 {"charges": {"total": "55000", "records": [{"type": "COMM", "amount": "50000", "bearer": "DEBT", "currency": "VND", "credit_debit": "DBIT"}, {"type": "VAT10", "amount": "5000", "bearer": "DEBT", "currency": "VND", "credit_debit": "DBIT"}], "total_currency": "VND"}, "entry_ref": "0003", "bank_tx_code": {"domain": "ACMT", "family": "MDOP", "sub_family": "CHRG"}}`,
				`4 [value_after_closing] 2026-11-24 {"entry_ref": "0004", "bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "DMCT"}}`,
				`5 [value_after_closing] 2026-11-25 {"entry_ref": "0005", "bank_tx_code": {"domain": "PMNT", "family": "ICDT", "sub_family": "STDO"}}`,
				`6 [direction_disagrees] 2026-11-23 {"entry_ref": "0006", "bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "DMCT"}, "transactions": [{"amount": "500000", "currency": "VND", "credit_debit": "DBIT", "end_to_end_id": "VQR2611230006", "remittance_info": ["RF60998877665544332 NOP PHAT"]}]}`,
			}},
		{name: "an intraday report is a position, not a day to reconcile", file: "camt052_intraday.xml",
			opt: staging.BankOptions{Kind: statement.KindCAMT052}, table: "recon_intraday_entries", days: 0,
			stmt: `camt.052 VND OPBD open=12738050 close=<nil> interim=17738050 unbalanced=false by 0 summary=true findings=[]`,
			entries: []string{
				`1 [] 2026-11-23 {"bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "DMCT"}, "transactions": [{"end_to_end_id": "NOTPROVIDED", "remittance_info": ["CTY MOMO TT QUYET TOAN STL-MOMO-20261122-R1"]}]}`,
				`2 [] 2026-11-23 {"bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "DMCT"}, "transactions": [{"end_to_end_id": "VQR2611230077", "remittance_info": ["RF18539007547034 NOP LE PHI"]}]}`,
				`3 [] 2026-11-23 {"bank_tx_code": {"domain": "PMNT", "family": "RCDT", "sub_family": "DMCT"}}`,
			}},
		{name: "a report taken for a statement is refused", file: "camt052_intraday.xml",
			opt: staging.BankOptions{Kind: statement.KindCAMT053}, wantErr: statement.ErrFormat},
		{name: "a statement taken for a report is refused", file: "camt053_returns.xml",
			opt: staging.BankOptions{Kind: statement.KindCAMT052}, wantErr: statement.ErrFormat},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := int64(100 + i)
			inTx(t, pool, func(tx pgx.Tx) {
				f, err := staging.LoadCAMT(ctx, tx, id, bytes.NewReader(sample(t, tt.file)), tt.opt, nil)
				if tt.wantErr != nil {
					var pe *statement.ParseError
					if !errors.Is(err, tt.wantErr) || !errors.As(err, &pe) {
						t.Fatalf("err = %v, want a *ParseError wrapping %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(f.Days) != tt.days {
					t.Errorf("days to reconcile %+v, want %d", f.Days, tt.days)
				}
				var r stmtRow
				if err := tx.QueryRow(ctx, `SELECT kind, currency, coalesce(opening_type, ''), findings::text, opening, closing,
					interim, difference, unbalanced, summary::text, period_to, interim_at
					FROM recon_bank_statements WHERE file_id = $1 AND seq = 1`, id).Scan(&r.Kind, &r.Currency, &r.OpeningType,
					&r.Findings, &r.Opening, &r.Closing, &r.Interim, &r.Difference, &r.Unbalanced, &r.Summary, &r.PeriodTo, &r.InterimAt); err != nil {
					t.Fatal(err)
				}
				var findings []statement.Finding
				if err := json.Unmarshal([]byte(r.Findings), &findings); err != nil {
					t.Fatal(err)
				}
				codes := []string{}
				for _, fd := range findings {
					codes = append(codes, fd.Code)
				}
				got := fmt.Sprintf("%s %s %s open=%v close=%v interim=%v unbalanced=%t by %v summary=%t findings=%q",
					r.Kind, r.Currency, r.OpeningType, str(r.Opening), str(r.Closing), str(r.Interim), r.Unbalanced,
					str(r.Difference), r.Summary != nil, codes)
				if got != tt.stmt {
					t.Errorf("statement\n got %s\nwant %s", got, tt.stmt)
				}
				rows, err := tx.Query(ctx, `SELECT entry_seq, coalesce(flags, '{}'), value_at, coalesce(details::text, 'null')
					FROM `+tt.table+` WHERE file_id = $1 ORDER BY stmt_seq, entry_seq`, id)
				if err != nil {
					t.Fatal(err)
				}
				var entries []string
				for rows.Next() {
					var seq int
					var flags []string
					var value *time.Time
					var details string
					if err := rows.Scan(&seq, &flags, &value, &details); err != nil {
						t.Fatal(err)
					}
					v := "-"
					if value != nil {
						v = value.In(statement.ICT).Format("2006-01-02")
					}
					entries = append(entries, fmt.Sprintf("%d %v %s %s", seq, flags, v, canonJSON(t, details)))
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				want := make([]string, len(tt.entries))
				for i, w := range tt.entries {
					at := strings.Index(w, "{")
					want[i] = w[:at] + canonJSON(t, w[at:])
				}
				if !slices.Equal(entries, want) {
					t.Errorf("entries\n got %s\nwant %s", strings.Join(entries, "\n"), strings.Join(want, "\n"))
				}
				var other int
				otherTable := map[string]string{"recon_bank_entries": "recon_intraday_entries", "recon_intraday_entries": "recon_bank_entries"}[tt.table]
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+otherTable+` WHERE file_id = $1`, id).Scan(&other); err != nil || other != 0 {
					t.Errorf("%d entries in %s, %v", other, otherTable, err)
				}
			})
		})
	}
}

// canonJSON prints a JSON document with its keys in order, so that
// PostgreSQL's jsonb and the test's text compare.
func canonJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func str(d *decimal.Decimal) string {
	if d == nil {
		return "<nil>"
	}
	return d.String()
}

// Every line whose gateway transaction id came earlier in its file is a
// repeat candidate (the matcher numbers occurrences among candidates only);
// a first occurrence is one only by the filter's rare chance.
func TestRepeatedTransactionIdsAreRepeatCandidates(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	const lines = 60_000
	var b bytes.Buffer
	w, err := statement.NewSettlementWriter(statement.GatewayMoMo, &b, statement.SettlementFile{BusinessDate: day})
	if err != nil {
		t.Fatal(err)
	}
	for i := range lines {
		txn := 4000000 + i
		if i%1000 == 999 {
			txn = 4000000 + i - 500 // the id of a line 500 before
		}
		if err := w.Write(statement.SettlementLine{GatewayTxnID: fmt.Sprint(txn), Reference: fmt.Sprintf("ATT%d", i),
			Type: statement.TypePayment, Gross: decimal.NewFromInt(10_000), Fee: decimal.NewFromInt(150),
			Net: decimal.NewFromInt(9_850), At: day}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	inTx(t, pool, func(tx pgx.Tx) {
		if _, err := staging.LoadSettlement(ctx, tx, 7, statement.GatewayMoMo, &b, nil); err != nil {
			t.Fatal(err)
		}
		var repeats, missed, candidates int64
		err := tx.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE occ > 1), count(*) FILTER (WHERE occ > 1 AND repeat_candidate IS NOT TRUE),
			       count(*) FILTER (WHERE repeat_candidate)
			FROM (SELECT repeat_candidate, row_number() OVER (PARTITION BY gateway_txn_id ORDER BY line) AS occ
			      FROM recon_settlement_lines WHERE file_id = 7) l`).Scan(&repeats, &missed, &candidates)
		if err != nil {
			t.Fatal(err)
		}
		if repeats != lines/1000 || missed != 0 || candidates > repeats+lines/100 {
			t.Fatalf("%d repeated lines, %d of them not candidates, %d candidates", repeats, missed, candidates)
		}
	})
}
