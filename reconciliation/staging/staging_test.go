package staging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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
			f, err := staging.LoadCAMT(ctx, tx, id, bytes.NewReader(camt(t, kind, entries...)), reference.Valid, nil)
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
			_, err := staging.LoadCAMT(ctx, tx, 1, bytes.NewReader(unbalanced), reference.Valid, nil)
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
