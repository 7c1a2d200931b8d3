package ledger

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func vnd(n int64) decimal.Decimal { return decimal.NewFromInt(n) }

// pair is a balanced two-posting entry of amount VND.
func pair(key, debit, credit string, amount int64) NewEntry {
	return NewEntry{Key: key, Kind: KindAdjustment, EffectiveAt: t0, Description: "test", Postings: []Posting{
		{Account: debit, Direction: Debit, Amount: vnd(amount), Currency: "VND"},
		{Account: credit, Direction: Credit, Amount: vnd(amount), Currency: "VND"},
	}}
}

func TestNormalizeRejects(t *testing.T) {
	t.Parallel()
	ok := pair("k", "gateway:vnpay:clearing", "agency:A:collected", 1000)
	tests := []struct {
		name   string
		edit   func(*NewEntry)
		field  string
		target error
	}{
		{"no key", func(e *NewEntry) { e.Key = "" }, "key", ErrInvalidEntry},
		{"long key", func(e *NewEntry) { e.Key = strings.Repeat("k", 256) }, "key", ErrInvalidEntry},
		{"unknown kind", func(e *NewEntry) { e.Kind = "gift" }, "kind", ErrInvalidEntry},
		{"reversal by hand", func(e *NewEntry) { e.Kind = KindReversal }, "kind", ErrInvalidEntry},
		{"no effective time", func(e *NewEntry) { e.EffectiveAt = time.Time{} }, "effective_at", ErrInvalidEntry},
		{"one posting", func(e *NewEntry) { e.Postings = e.Postings[:1] }, "postings", ErrInvalidEntry},
		{"unknown account", func(e *NewEntry) { e.Postings[0].Account = "cash" }, "postings[0].account", ErrInvalidEntry},
		{"bad direction", func(e *NewEntry) { e.Postings[1].Direction = "up" }, "postings[1].direction", ErrInvalidEntry},
		{"zero amount", func(e *NewEntry) { e.Postings[0].Amount = vnd(0); e.Postings[1].Amount = vnd(0) }, "postings[0].amount", ErrInvalidEntry},
		{"negative amount", func(e *NewEntry) { e.Postings[0].Amount = vnd(-5) }, "postings[0].amount", ErrInvalidEntry},
		{"fractional VND", func(e *NewEntry) {
			e.Postings[0].Amount = decimal.RequireFromString("1000.5")
			e.Postings[1].Amount = decimal.RequireFromString("1000.5")
		}, "postings[0].amount", ErrInvalidEntry},
		{"three USD decimals", func(e *NewEntry) {
			for i := range e.Postings {
				e.Postings[i].Currency, e.Postings[i].Amount = "USD", decimal.RequireFromString("1.005")
			}
		}, "postings[0].amount", ErrInvalidEntry},
		{"unknown currency", func(e *NewEntry) { e.Postings[0].Currency = "XXX" }, "postings[0].currency", ErrInvalidEntry},
		{"unbalanced", func(e *NewEntry) { e.Postings[1].Amount = vnd(999) }, "postings", ErrUnbalanced},
		{"balanced in sum but not per currency", func(e *NewEntry) {
			e.Postings[1].Account, e.Postings[1].Currency = "agency:B:collected", "USD"
		}, "postings", ErrUnbalanced},
		{"one account in two currencies", func(e *NewEntry) {
			e.Postings = append(e.Postings, Posting{Account: "gateway:vnpay:clearing", Direction: Debit, Amount: vnd(1), Currency: "USD"},
				Posting{Account: "agency:B:collected", Direction: Credit, Amount: vnd(1), Currency: "USD"})
		}, "postings[2].currency", ErrCurrencyMismatch},
		{"service on a clearing account", func(e *NewEntry) { e.Postings[0].ServiceCode, e.Postings[0].Channel = "SVC-1", "card" }, "postings[0].service_code", ErrInvalidEntry},
		{"service without channel", func(e *NewEntry) { e.Postings[1].ServiceCode = "SVC-1" }, "postings[1].channel", ErrInvalidEntry},
		{"bad service code", func(e *NewEntry) { e.Postings[1].ServiceCode, e.Postings[1].Channel = "svc 1", "card" }, "postings[1].service_code", ErrInvalidEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := ok
			e.Postings = append([]Posting(nil), ok.Postings...)
			tt.edit(&e)
			_, err := normalize(e, false)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, tt.target) || ve.Field != tt.field {
				t.Fatalf("normalize: %v; want a %v naming %q", err, tt.target, tt.field)
			}
		})
	}
	if _, err := normalize(ok, false); err != nil {
		t.Fatalf("valid entry refused: %v", err)
	}
}

func TestNormalizeCanonicalises(t *testing.T) {
	t.Parallel()
	e := pair("k", "gateway:vnpay:clearing", "agency:A:collected", 1000)
	e.EffectiveAt = time.Date(2025, 3, 1, 17, 0, 0, 123456789, bizday.Zone)
	got, err := normalize(e, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC); !got.EffectiveAt.Equal(want) || got.EffectiveAt.Location() != time.UTC {
		t.Errorf("effective time %v, want %v in UTC at microsecond precision", got.EffectiveAt, want)
	}
	if got.RecordedBy != "system" {
		t.Errorf("RecordedBy defaulted to %q", got.RecordedBy)
	}
}

func TestContentHash(t *testing.T) {
	t.Parallel()
	base := pair("k", "gateway:vnpay:clearing", "agency:A:collected", 1000)
	h := contentHash(base, 0)
	same := pair("other-key", "gateway:vnpay:clearing", "agency:A:collected", 1000)
	same.RecordedBy = "treasury:abc"
	same.Postings[0].Amount = decimal.RequireFromString("1000.00")
	if !bytes.Equal(h, contentHash(same, 0)) {
		t.Error("key, recorder or trailing zeros changed the content hash")
	}
	edits := map[string]func(*NewEntry){
		"kind":        func(e *NewEntry) { e.Kind = KindTransfer },
		"reference":   func(e *NewEntry) { e.Reference = "x" },
		"description": func(e *NewEntry) { e.Description = "other" },
		"time":        func(e *NewEntry) { e.EffectiveAt = e.EffectiveAt.Add(time.Microsecond) },
		"account":     func(e *NewEntry) { e.Postings[1].Account = "agency:B:collected" },
		"amount":      func(e *NewEntry) { e.Postings[0].Amount = vnd(1001) },
		"direction":   func(e *NewEntry) { e.Postings[0].Direction = Credit },
		"service":     func(e *NewEntry) { e.Postings[1].ServiceCode = "S1" },
		"order":       func(e *NewEntry) { e.Postings[0], e.Postings[1] = e.Postings[1], e.Postings[0] },
	}
	for name, edit := range edits {
		e := base
		e.Postings = append([]Posting(nil), base.Postings...)
		edit(&e)
		if bytes.Equal(h, contentHash(e, 0)) {
			t.Errorf("changing %s kept the content hash", name)
		}
	}
	if bytes.Equal(h, contentHash(base, 7)) {
		t.Error("reverses is not part of the content hash")
	}
}
