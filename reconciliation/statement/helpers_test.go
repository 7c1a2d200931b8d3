package statement

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// validRF is an ISO 11649 creditor reference check (RF, two check digits, up
// to 21 letters or digits; MOD 97-10), standing in for the caller's validator.
func validRF(s string) bool {
	if len(s) < 5 || len(s) > 25 || !strings.HasPrefix(s, "RF") || !allDigits(s[2:4]) {
		return false
	}
	var digits strings.Builder
	for _, r := range s[4:] + s[:4] {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			fmt.Fprintf(&digits, "%d", r-'A'+10)
		default:
			return false
		}
	}
	n, _ := new(big.Int).SetString(digits.String(), 10)
	return new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, ICT) }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseCAMTString parses s and collects every entry handed to the callback.
func parseCAMTString(s string) ([]Statement, []Entry, error) {
	var entries []Entry
	stmts, err := ParseCAMT(strings.NewReader(s), func(_ Statement, e Entry) error {
		entries = append(entries, e)
		return nil
	})
	return stmts, entries, err
}

// when prints a time as a date when it is midnight ICT, else in full (ICT).
func when(t time.Time) string {
	switch {
	case t.IsZero():
		return "-"
	case isMidnightICT(t):
		return t.In(ICT).Format(isoDate)
	}
	return t.In(ICT).Format(isoDateTimeWrite)
}

func balanceLine(b *Balance) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s %s %s", b.Type, b.Amount, b.Currency, when(b.Date))
}

// stmtLine sums up a statement for table tests.
func stmtLine(s Statement) string {
	return fmt.Sprintf("%s %s #%d msg=%s id=%s seq=%s created=%s from=%s to=%s acct=%s %s open=[%s] close=[%s] n=%d cr=%s dr=%s",
		s.Kind, s.Version, s.Seq, s.MessageID, s.StatementID, s.ElectronicSeq, when(s.Created), when(s.From), when(s.To),
		s.Account, s.Currency, balanceLine(s.Opening), balanceLine(s.Closing), s.Entries, s.BookedCredits, s.BookedDebits)
}

// entryLine sums up an entry for table tests.
func entryLine(e Entry) string {
	dir := "DBIT"
	if e.Credit {
		dir = "CRDT"
	}
	return fmt.Sprintf("%d %s %s %s %s rvsl=%t ref=%s book=%s val=%s svcr=%s e2e=%s tx=%s ustrd=%q add=%q txs=%d",
		e.Seq, dir, e.Amount, e.Currency, e.Status, e.Reversal, e.EntryRef, when(e.BookingDate), when(e.ValueDate),
		e.AcctSvcrRef, e.EndToEndID, e.TxID, e.RemittanceInfo, e.AdditionalInfo, len(e.TxDetails))
}

// canonEntry prints every field of an entry, times in UTC, for equality.
func canonEntry(e Entry) string {
	e.BookingDate, e.ValueDate = e.BookingDate.UTC(), e.ValueDate.UTC()
	return fmt.Sprintf("%+v", e)
}

// lineOf is the 1-based line of the n-th (1-based) occurrence of sub in s.
func lineOf(s, sub string, n int) int {
	off := 0
	for i := 0; i < n; i++ {
		j := strings.Index(s[off:], sub)
		if j < 0 {
			return -1
		}
		off += j + len(sub)
	}
	return strings.Count(s[:off], "\n") + 1
}
