package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// TestReconcileCommand imports files and queues a day from the command line.
// It sets DATABASE_URL, so it does not run in parallel.
func TestReconcileCommand(t *testing.T) {
	ctx := context.Background()
	pool, url := pgtest.NewWithURL(t)
	t.Setenv("DATABASE_URL", url)
	dir := t.TempDir()
	day := time.Date(2026, time.November, 23, 0, 0, 0, 0, statement.ICT)

	var csv bytes.Buffer
	w, err := statement.NewSettlementWriter(statement.GatewayMoMo, &csv, statement.SettlementFile{BusinessDate: day})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(statement.SettlementLine{GatewayTxnID: "4088878653", Reference: "ATT1", Type: statement.TypePayment,
		Gross: decimal.NewFromInt(50_000), Fee: decimal.NewFromInt(750), Net: decimal.NewFromInt(49_250), At: day.Add(9 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "momo.csv")
	var camt bytes.Buffer
	if err := statement.WriteCAMT053(&camt, statement.Statement{MessageID: "M", StatementID: "S", Created: day, Account: "1",
		Currency: "VND", Opening: &statement.Balance{Type: statement.BalanceOpening, Amount: decimal.Zero, Currency: "VND", Date: day}},
		[]statement.Entry{{Amount: decimal.NewFromInt(100), Currency: "VND", Credit: true, Status: statement.StatusBooked,
			BookingDate: day, AcctSvcrRef: "B1"}}); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "unbalanced.xml")
	for path, data := range map[string][]byte{good: csv.Bytes(), bad: bytes.Replace(camt.Bytes(), []byte(">100<"), []byte(">90<"), 1)} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct {
		args    []string
		out     []string
		wantErr error
		errHas  string
	}{
		{args: []string{"import", good}, out: []string{"settlement.momo loaded, 1 lines", "queued run 1: momo 2026-11-23"}},
		{args: []string{"import", good}, out: []string{"imported before (loaded); nothing changed"}},
		{args: []string{"import", bad}, errHas: "statement does not balance"},
		{args: []string{"import", filepath.Join(dir, "none.csv")}, errHas: "no such file"},
		{args: []string{"--date", "2026-11-23", "--gateway", "momo"}, out: []string{"queued reconciliation of 2026-11-23 (momo) as job"}},
		{args: []string{"--date", "2026-11-23"}, out: []string{"(every source)"}},
		{args: []string{"--date", "23/11/2026"}, errHas: "not YYYY-MM-DD"},
		{args: []string{"--date", "2026-11-23", "--gateway", "paypal"}, wantErr: reconciliation.ErrInvalid},
		{args: []string{}, wantErr: errUsage},
		{args: []string{"import"}, wantErr: errUsage},
	} {
		var out bytes.Buffer
		err := reconcileCmd(ctx, pool, c.args, &out)
		switch {
		case c.wantErr != nil && !errors.Is(err, c.wantErr), c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas)):
			t.Errorf("%v: error %v, want %v %q", c.args, err, c.wantErr, c.errHas)
		case c.wantErr == nil && c.errHas == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		}
		for _, s := range c.out {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%v: output %q lacks %q", c.args, out.String(), s)
			}
		}
	}
	var jobs int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'recon_day' AND args->>'date' = '2026-11-23'`).
		Scan(&jobs); err != nil || jobs != 2 {
		t.Fatalf("%d day jobs queued, %v", jobs, err)
	}
}
