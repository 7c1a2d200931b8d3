package ledger

import (
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// EntryKind says which business event an entry records.
type EntryKind string

// Entry kinds: one per posting rule, plus manual adjustments and reversals.
const (
	KindPayment           EntryKind = "payment"
	KindRefund            EntryKind = "refund"
	KindOverpayment       EntryKind = "overpayment"
	KindOverpaymentRefund EntryKind = "overpayment_refund"
	KindSettlement        EntryKind = "settlement"
	KindTransfer          EntryKind = "transfer"
	KindSuspense          EntryKind = "suspense"
	KindAdjustment        EntryKind = "adjustment"
	KindReversal          EntryKind = "reversal"
)

var entryKinds = map[EntryKind]bool{
	KindPayment: true, KindRefund: true, KindOverpayment: true, KindOverpaymentRefund: true,
	KindSettlement: true, KindTransfer: true, KindSuspense: true, KindAdjustment: true, KindReversal: true,
}

// Direction is the side of a posting.
type Direction string

// Debit and Credit. A debit increases an asset or expense account; a credit
// increases a liability or revenue account.
const (
	Debit  Direction = "debit"
	Credit Direction = "credit"
)

// Opposite is the other side.
func (d Direction) Opposite() Direction {
	if d == Debit {
		return Credit
	}
	return Debit
}

// Posting moves Amount (always positive) into or out of one account.
// ServiceCode and Channel are set only on agency collected accounts, by the
// payment and refund rules: revenue is grouped by them.
type Posting struct {
	Account     string          `json:"account"`
	Direction   Direction       `json:"direction"`
	Amount      decimal.Decimal `json:"amount"`
	Currency    string          `json:"currency"`
	ServiceCode string          `json:"service_code,omitempty"`
	Channel     string          `json:"channel,omitempty"`
}

// Net is the signed amount: positive for a debit, negative for a credit.
func (p Posting) Net() decimal.Decimal {
	if p.Direction == Credit {
		return p.Amount.Neg()
	}
	return p.Amount
}

// NewEntry is an entry to post. Key makes posting idempotent: posting the
// same key and content again returns the original entry. RecordedBy is the
// actor (an API key's Actor() for manual entries; "system" when empty).
type NewEntry struct {
	Key         string
	Kind        EntryKind
	Reference   string // the business object, e.g. "order:<id>/attempt:<id>"
	Description string
	EffectiveAt time.Time
	RecordedBy  string
	Postings    []Posting
	// Now is the time of recording by the caller's clock: an entry whose
	// effective time falls in a closed business day takes effect at Now
	// instead (see days.go). Zero: the wall clock. It is not part of the
	// entry's content (a replay with another Now is the same entry).
	Now time.Time
}

// Entry is a recorded entry. ID is the recording sequence number (not commit
// order); Reverses is the ID of the entry a reversal mirrors, else 0.
type Entry struct {
	ID          int64     `json:"id"`
	Key         string    `json:"key"`
	Kind        EntryKind `json:"kind"`
	Reference   string    `json:"reference"`
	Description string    `json:"description"`
	RecordedBy  string    `json:"recorded_by"`
	Reverses    int64     `json:"reverses,omitempty"`
	EffectiveAt time.Time `json:"effective_at"`
	RecordedAt  time.Time `json:"recorded_at"`
	Postings    []Posting `json:"postings"`
}

// Limits of an entry.
const (
	maxPostings    = 100
	maxKey         = 255
	maxReference   = 255
	maxDescription = 1000
)

var (
	serviceCodeRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,47}$`)
	channelRE     = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	earliest      = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latest        = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// normalize checks e against the ledger's rules and returns it in canonical
// form (UTC, microsecond effective time; RecordedBy defaulted). reversal says
// whether e is the mirror of another entry (only Reverse makes those).
func normalize(e NewEntry, reversal bool) (NewEntry, error) {
	switch {
	case e.Key == "" || len(e.Key) > maxKey || !utf8.ValidString(e.Key):
		return e, invalid("key", "an idempotency key has 1 to %d bytes of UTF-8", maxKey)
	case !entryKinds[e.Kind]:
		return e, invalid("kind", "unknown entry kind %q", e.Kind)
	case (e.Kind == KindReversal) != reversal:
		return e, invalid("kind", "reversal entries are made only by Reverse")
	case len(e.Reference) > maxReference || !utf8.ValidString(e.Reference):
		return e, invalid("reference", "at most %d bytes of UTF-8", maxReference)
	case len(e.Description) > maxDescription || !utf8.ValidString(e.Description):
		return e, invalid("description", "at most %d bytes of UTF-8", maxDescription)
	case e.EffectiveAt.Before(earliest) || !e.EffectiveAt.Before(latest):
		return e, invalid("effective_at", "must be between %s and %s", earliest.Format(time.DateOnly), latest.Format(time.DateOnly))
	case len(e.Postings) < 2 || len(e.Postings) > maxPostings:
		return e, invalid("postings", "an entry has 2 to %d postings, got %d", maxPostings, len(e.Postings))
	}
	if e.RecordedBy == "" {
		e.RecordedBy = "system"
	}
	if len(e.RecordedBy) > 100 {
		return e, invalid("recorded_by", "at most 100 bytes")
	}
	e.EffectiveAt = e.EffectiveAt.UTC().Truncate(time.Microsecond)
	if e.Now.IsZero() {
		e.Now = time.Now()
	}
	e.Postings = append([]Posting(nil), e.Postings...)
	if err := checkPostings(e.Postings); err != nil {
		return e, err
	}
	return e, nil
}

func checkPostings(ps []Posting) error {
	currencyOf := map[string]string{}
	for i, p := range ps {
		field := fmt.Sprintf("postings[%d]", i)
		if _, err := KindOf(p.Account); err != nil {
			return invalid(field+".account", "%v", err)
		}
		if p.Direction != Debit && p.Direction != Credit {
			return invalid(field+".direction", "must be debit or credit, got %q", p.Direction)
		}
		if err := checkCurrency(field+".currency", p.Currency); err != nil {
			return err
		}
		if err := checkAmount(field+".amount", p.Amount, p.Currency); err != nil {
			return err
		}
		if c, ok := currencyOf[p.Account]; ok && c != p.Currency {
			return &ValidationError{Field: field + ".currency", Detail: fmt.Sprintf("account %s is posted in %s and %s", p.Account, c, p.Currency), kind: ErrCurrencyMismatch}
		}
		currencyOf[p.Account] = p.Currency
		if err := checkAttribution(field, p); err != nil {
			return err
		}
	}
	if cur, sum := imbalance(ps); cur != "" {
		return &ValidationError{Field: "postings", Detail: fmt.Sprintf("debits minus credits is %s %s, not 0", sum, cur), kind: ErrUnbalanced}
	}
	return nil
}

// imbalance returns the first currency (alphabetically) in which the postings
// do not sum to zero, and their sum; "" if they balance.
func imbalance(ps []Posting) (string, decimal.Decimal) {
	sums := map[string]decimal.Decimal{}
	for _, p := range ps {
		sums[p.Currency] = sums[p.Currency].Add(p.Net())
	}
	for _, c := range sortedKeys(sums) {
		if !sums[c].IsZero() {
			return c, sums[c]
		}
	}
	return "", decimal.Decimal{}
}

// checkAttribution: service and channel go together, and only on an agency's
// collected account (they are what revenue is grouped by).
func checkAttribution(field string, p Posting) error {
	if p.ServiceCode == "" && p.Channel == "" {
		return nil
	}
	if _, ok := agencyOf(p.Account); !ok {
		return invalid(field+".service_code", "service and channel are set only on agency:<code>:collected accounts")
	}
	if !serviceCodeRE.MatchString(p.ServiceCode) {
		return invalid(field+".service_code", "must match %s", serviceCodeRE)
	}
	if !channelRE.MatchString(p.Channel) {
		return invalid(field+".channel", "must match %s", channelRE)
	}
	return nil
}
