package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/ledger"
)

// TestLedgerRebuildRollupsAndVerify: the rebuild prints its progress and
// leaves rollups that verify matches with the postings; a rollup changed
// behind the ledger's back makes verify fail naming it, and a rebuild mends
// it. It sets DATABASE_URL, so it does not run in parallel.
func TestLedgerRebuildRollupsAndVerify(t *testing.T) {
	ctx := context.Background()
	pool, url := pgtest.NewWithURL(t)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("CIVICPAY_LOG_LEVEL", "error")
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i := range 5 {
		_, err := ledger.PostPayment(ctx, pool, ledger.Payment{Key: fmt.Sprint("p", i), OrderID: uuid.New(), AttemptID: uuid.New(),
			Gateway: "vnpay", Channel: "card", Currency: "VND", EffectiveAt: day.AddDate(0, 0, i),
			Shares: []ledger.Share{{AgencyCode: "HN", ServiceCode: "STAMP", Amount: decimal.NewFromInt(int64(1000 * (i + 1)))}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	civicpay := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, &out)
		return out.String(), err
	}

	out, err := civicpay("ledger", "rebuild-rollups")
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^rollups: 5 of 5 entries \(100%\), up to xid \d+, `).MatchString(out) || !strings.Contains(out, "rollups rebuilt: 5 entries") {
		t.Fatalf("rebuild printed:\n%s", out)
	}
	if out, err = civicpay("ledger", "verify"); err != nil || !strings.Contains(out, "5 daily and 1 monthly revenue rollups and 10 balance checkpoints match") {
		t.Fatalf("verify after the rebuild: %v\n%s", err, out)
	}
	var actor string
	if err := pool.QueryRow(ctx, `SELECT actor FROM audit_log WHERE action = 'ledger.rollups.rebuild'`).Scan(&actor); err != nil || !strings.HasPrefix(actor, "cli:") {
		t.Fatalf("rebuild audit row: actor %q, %v", actor, err)
	}

	if _, err := pool.Exec(ctx, `UPDATE ledger_revenue_rollups SET gross = gross + 1, net = net + 1 WHERE day = '2026-03-04'`); err != nil {
		t.Fatal(err)
	}
	if out, err = civicpay("ledger", "verify"); !errors.Is(err, ledger.ErrBroken) || !strings.Contains(err.Error(), "rollup: revenue day 2026-03-04 HN STAMP card VND") {
		t.Fatalf("verify of a changed rollup: %v\n%s", err, out)
	}
	if out, err = civicpay("ledger", "rebuild-rollups"); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	if out, err = civicpay("ledger", "verify"); err != nil {
		t.Fatalf("verify after the second rebuild: %v\n%s", err, out)
	}
	if _, err := civicpay("ledger", "rebuild"); !errors.Is(err, errUsage) {
		t.Fatalf("ledger rebuild: %v, want usage", err)
	}
}
