package ledger

import (
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/problem"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"2025-03-01", time.Date(2025, 2, 28, 17, 0, 0, 0, time.UTC), true}, // midnight in Hà Nội
		{"2025-03-01T10:00:00+07:00", time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC), true},
		{"2025-03-01T10:00:00.123456Z", time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC), true},
		{"2025-02-30", time.Time{}, false},
		{"1999-12-31", time.Time{}, false},
		{"01/03/2025", time.Time{}, false},
		{"2025-03-01 10:00", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseTime("query.x", tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzDecodeEntryCursor(f *testing.F) {
	f.Add(encodeEntryCursor(EntryCursor{EffectiveAt: t0, ID: 42}))
	f.Add("")
	f.Add("ZTE6MTox")
	f.Add("e1:1:1")
	f.Add("ZTE6LTk5OTk5OTk5OTk5OTk5OTk5OTk6MQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeEntryCursor(s)
		if err != nil || s == "" {
			return
		}
		if c.ID < 1 || c.EffectiveAt.Before(earliest) {
			t.Fatalf("decoded an out-of-range cursor %+v from %q", c, s)
		}
		if again, err := decodeEntryCursor(encodeEntryCursor(c)); err != nil || again != c {
			t.Fatalf("round trip of %+v: %+v, %v", c, again, err)
		}
	})
}

func FuzzDecodeAccountCursor(f *testing.F) {
	f.Add(encodeAccountCursor("agency:HCM-TP:collected"))
	f.Add("YTE6")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		code, err := decodeAccountCursor(s)
		if err != nil || s == "" {
			return
		}
		if again, err := decodeAccountCursor(encodeAccountCursor(code)); err != nil || again != code {
			t.Fatalf("round trip of %q: %q, %v", code, again, err)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2025-03-01", "2025-03-01T10:00:00+07:00", "9999-12-31T23:59:59Z", "0000-01-01", "2025-13-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime("query.x", s)
		if err == nil && s != "" && (got.Before(earliest) || !got.Before(latest) || got.Location() != time.UTC) {
			t.Fatalf("parseTime(%q) = %v outside the accepted range or not UTC", s, got)
		}
	})
}

// FuzzManualEntry feeds request bodies of POST /v1/ledger/entries through the
// same decoding and checks as the handler: nothing panics, and whatever is
// accepted balances.
func FuzzManualEntry(f *testing.F) {
	f.Add([]byte(manualBody("5000", "2025-03-01T10:00:00Z")))
	f.Add([]byte(manualBody("0.5", "2025-03-01T10:00:00Z")))
	f.Add([]byte(`{"reason":"x","effective_at":"2025-03-01T10:00:00Z","postings":[{"account":"suspense","direction":"debit","amount":"1e3","currency":"VND"},{"account":"overpayments","direction":"credit","amount":1000,"currency":"VND"}]}`))
	f.Add([]byte(`{"postings":[{"amount":-1}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req manualEntryRequest
		if problem.DecodeJSON(body, &req) != nil || req.EffectiveAt == nil {
			return
		}
		e, err := normalize(NewEntry{Key: "k", Kind: KindAdjustment, Description: req.Reason, Reference: req.Reference,
			EffectiveAt: *req.EffectiveAt, Postings: req.Postings}, false)
		if err != nil {
			return
		}
		if cur, sum := imbalance(e.Postings); cur != "" {
			t.Fatalf("accepted an entry off by %s %s", sum, cur)
		}
		for _, p := range e.Postings {
			if p.Amount.Sign() <= 0 {
				t.Fatalf("accepted amount %s", p.Amount)
			}
		}
	})
}
