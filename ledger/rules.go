package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// The posting rules: one named function per business event, each building a
// NewEntry from a plain struct and posting it with Post (same idempotency and
// transaction behaviour). Amounts are positive and in the currency's minor
// unit at most; a fractional VND amount is an error, never rounded.

// Share is what one order line owes one agency for one service.
type Share struct {
	AgencyCode  string
	ServiceCode string
	Amount      decimal.Decimal
}

// Payment is a successful gateway payment of an order.
type Payment struct {
	Key                string
	OrderID, AttemptID uuid.UUID
	Gateway, Channel   string
	Currency           string
	Shares             []Share
	EffectiveAt        time.Time
	Now                time.Time // the time of recording (NewEntry.Now)
}

// PostPayment: Dr gateway:<g>:clearing (the total), Cr agency:<code>:collected
// per share, each credit carrying its service and the channel for revenue.
func PostPayment(ctx context.Context, db DBTX, p Payment) (Entry, error) {
	e, err := paymentEntry(p)
	if err != nil {
		return Entry{}, err
	}
	return Post(ctx, db, e)
}

// PostPayments is PostPayment for many payments, in one statement (PostMany).
func PostPayments(ctx context.Context, db DBTX, ps []Payment) ([]Entry, error) {
	es := make([]NewEntry, len(ps))
	for i, p := range ps {
		e, err := paymentEntry(p)
		if err != nil {
			return nil, err
		}
		es[i] = e
	}
	return PostMany(ctx, db, es)
}

func paymentEntry(p Payment) (NewEntry, error) {
	return shareEntry(NewEntry{Key: p.Key, Kind: KindPayment, EffectiveAt: p.EffectiveAt, Now: p.Now,
		Reference:   fmt.Sprintf("order:%s/attempt:%s", p.OrderID, p.AttemptID),
		Description: "payment via " + p.Gateway},
		[]uuid.UUID{p.OrderID, p.AttemptID}, p.Gateway, p.Channel, p.Currency, p.Shares, Credit)
}

// Refund returns (part of) a payment through the gateway it came by.
type Refund struct {
	Key               string
	OrderID, RefundID uuid.UUID
	Gateway, Channel  string
	Currency          string
	Shares            []Share
	EffectiveAt       time.Time
	Now               time.Time // the time of recording (NewEntry.Now)
}

// PostRefund: Dr agency:<code>:collected per share, Cr gateway:<g>:clearing.
func PostRefund(ctx context.Context, db DBTX, r Refund) (Entry, error) {
	return postShares(ctx, db, NewEntry{Key: r.Key, Kind: KindRefund, EffectiveAt: r.EffectiveAt, Now: r.Now,
		Reference:   fmt.Sprintf("order:%s/refund:%s", r.OrderID, r.RefundID),
		Description: "refund via " + r.Gateway},
		[]uuid.UUID{r.OrderID, r.RefundID}, r.Gateway, r.Channel, r.Currency, r.Shares, Debit)
}

// postShares posts e with the postings of a payment (agencySide Credit) or a
// refund (agencySide Debit) once its inputs are checked.
func postShares(ctx context.Context, db DBTX, e NewEntry, ids []uuid.UUID, gateway, channel, currency string, shares []Share, agencySide Direction) (Entry, error) {
	e, err := shareEntry(e, ids, gateway, channel, currency, shares, agencySide)
	if err != nil {
		return Entry{}, err
	}
	return Post(ctx, db, e)
}

// shareEntry is e with the postings of a payment or a refund, once its inputs are checked.
func shareEntry(e NewEntry, ids []uuid.UUID, gateway, channel, currency string, shares []Share, agencySide Direction) (NewEntry, error) {
	if err := checkIDs(ids...); err != nil {
		return NewEntry{}, err
	}
	postings, err := sharePostings(gateway, channel, currency, shares, agencySide)
	if err != nil {
		return NewEntry{}, err
	}
	e.Postings = postings
	return e, nil
}

// Overpayment is a second successful payment of an order already paid.
type Overpayment struct {
	Key                string
	OrderID, AttemptID uuid.UUID
	Gateway, Currency  string
	Amount             decimal.Decimal
	EffectiveAt        time.Time
	Now                time.Time // the time of recording (NewEntry.Now)
}

// PostOverpayment: Dr gateway:<g>:clearing, Cr overpayments.
func PostOverpayment(ctx context.Context, db DBTX, o Overpayment) (Entry, error) {
	if err := checkIDs(o.OrderID, o.AttemptID); err != nil {
		return Entry{}, err
	}
	e := NewEntry{Key: o.Key, Kind: KindOverpayment, EffectiveAt: o.EffectiveAt, Now: o.Now, Description: "overpayment via " + o.Gateway,
		Reference: fmt.Sprintf("order:%s/attempt:%s", o.OrderID, o.AttemptID)}
	return postPair(ctx, db, e, map[string]string{"gateway": o.Gateway}, GatewayClearing(o.Gateway), Overpayments, o.Currency, o.Amount)
}

// OverpaymentRefund returns an overpayment through its gateway.
type OverpaymentRefund struct {
	Key                          string
	OrderID, AttemptID, RefundID uuid.UUID
	Gateway, Currency            string
	Amount                       decimal.Decimal
	EffectiveAt                  time.Time
	Now                          time.Time // the time of recording (NewEntry.Now)
}

// PostOverpaymentRefund: Dr overpayments, Cr gateway:<g>:clearing.
func PostOverpaymentRefund(ctx context.Context, db DBTX, r OverpaymentRefund) (Entry, error) {
	if err := checkIDs(r.OrderID, r.AttemptID, r.RefundID); err != nil {
		return Entry{}, err
	}
	e := NewEntry{Key: r.Key, Kind: KindOverpaymentRefund, EffectiveAt: r.EffectiveAt, Now: r.Now, Description: "overpayment refund via " + r.Gateway,
		Reference: fmt.Sprintf("order:%s/attempt:%s/refund:%s", r.OrderID, r.AttemptID, r.RefundID)}
	return postPair(ctx, db, e, map[string]string{"gateway": r.Gateway}, Overpayments, GatewayClearing(r.Gateway), r.Currency, r.Amount)
}

// Settlement is a gateway paying the net of a settlement file into a treasury
// bank account: Gross = Net + Fees.
type Settlement struct {
	Key                      string
	Gateway, TreasuryAccount string
	FileID                   string
	Currency                 string
	Gross, Fees, Net         decimal.Decimal
	EffectiveAt              time.Time
	Now                      time.Time // the time of recording (NewEntry.Now)
}

// PostSettlement: Dr treasury:<acct>:bank Net, Dr gateway:<g>:fees Fees (when
// not zero), Cr gateway:<g>:clearing Gross.
func PostSettlement(ctx context.Context, db DBTX, s Settlement) (Entry, error) {
	if err := checkNames(map[string]string{"gateway": s.Gateway, "treasury_account": s.TreasuryAccount}); err != nil {
		return Entry{}, err
	}
	if err := checkCurrency("currency", s.Currency); err != nil {
		return Entry{}, err
	}
	if err := checkAmount("gross", s.Gross, s.Currency); err != nil {
		return Entry{}, err
	}
	if s.Fees.Sign() < 0 || s.Net.Sign() < 0 || !s.Fees.Add(s.Net).Equal(s.Gross) {
		return Entry{}, invalid("net", "gross %s must equal net %s plus fees %s, neither negative", s.Gross, s.Net, s.Fees)
	}
	postings := []Posting{{Account: GatewayClearing(s.Gateway), Direction: Credit, Amount: s.Gross, Currency: s.Currency}}
	for _, leg := range []struct {
		account string
		amount  decimal.Decimal
	}{{TreasuryBank(s.TreasuryAccount), s.Net}, {GatewayFees(s.Gateway), s.Fees}} {
		if leg.amount.Sign() > 0 {
			postings = append(postings, Posting{Account: leg.account, Direction: Debit, Amount: leg.amount, Currency: s.Currency})
		}
	}
	return Post(ctx, db, NewEntry{Key: s.Key, Kind: KindSettlement, EffectiveAt: s.EffectiveAt, Now: s.Now, Postings: postings,
		Reference:   "settlement-file:" + s.FileID,
		Description: "settlement from " + s.Gateway})
}

// Transfer pays an agency what civicpay collected for it, out of a treasury
// bank account.
type Transfer struct {
	Key                         string
	AgencyCode, TreasuryAccount string
	Reference                   string // the bank transfer's reference
	Currency                    string
	Amount                      decimal.Decimal
	EffectiveAt                 time.Time
	Now                         time.Time // the time of recording (NewEntry.Now)
}

// PostTransfer: Dr agency:<code>:collected, Cr treasury:<acct>:bank.
func PostTransfer(ctx context.Context, db DBTX, t Transfer) (Entry, error) {
	return postPair(ctx, db, NewEntry{Key: t.Key, Kind: KindTransfer, EffectiveAt: t.EffectiveAt, Now: t.Now,
		Reference: "transfer:" + t.Reference, Description: "transfer to " + t.AgencyCode},
		map[string]string{"agency_code": t.AgencyCode, "treasury_account": t.TreasuryAccount},
		AgencyCollected(t.AgencyCode), TreasuryBank(t.TreasuryAccount), t.Currency, t.Amount)
}

// SuspenseCredit is money credited to a treasury bank account that no order
// claims (yet).
type SuspenseCredit struct {
	Key             string
	TreasuryAccount string
	StatementRef    string // the statement line it came from
	Currency        string
	Amount          decimal.Decimal
	EffectiveAt     time.Time
	Now             time.Time // the time of recording (NewEntry.Now)
}

// PostSuspense: Dr treasury:<acct>:bank, Cr suspense.
func PostSuspense(ctx context.Context, db DBTX, s SuspenseCredit) (Entry, error) {
	return postPair(ctx, db, NewEntry{Key: s.Key, Kind: KindSuspense, EffectiveAt: s.EffectiveAt, Now: s.Now,
		Reference: "statement:" + s.StatementRef, Description: "unidentified bank credit"},
		map[string]string{"treasury_account": s.TreasuryAccount}, TreasuryBank(s.TreasuryAccount), Suspense, s.Currency, s.Amount)
}

// postPair posts e as Dr debit, Cr credit of amount. names are the inputs the
// account codes are made of, by field, checked first so an error names the field.
func postPair(ctx context.Context, db DBTX, e NewEntry, names map[string]string, debit, credit, currency string, amount decimal.Decimal) (Entry, error) {
	if err := checkNames(names); err != nil {
		return Entry{}, err
	}
	if err := checkCurrency("currency", currency); err != nil {
		return Entry{}, err
	}
	if err := checkAmount("amount", amount, currency); err != nil {
		return Entry{}, err
	}
	e.Postings = []Posting{
		{Account: debit, Direction: Debit, Amount: amount, Currency: currency},
		{Account: credit, Direction: Credit, Amount: amount, Currency: currency},
	}
	return Post(ctx, db, e)
}

// sharePostings builds the postings of a payment (agencySide Credit) or a
// refund (agencySide Debit): one per share on the agency's collected account,
// and the total on the gateway's clearing account.
func sharePostings(gateway, channel, currency string, shares []Share, agencySide Direction) ([]Posting, error) {
	if err := checkNames(map[string]string{"gateway": gateway}); err != nil {
		return nil, err
	}
	if !channelRE.MatchString(channel) || channel == AdjustmentChannel {
		return nil, invalid("channel", "must match %s and not be %q", channelRE, AdjustmentChannel)
	}
	if err := checkCurrency("currency", currency); err != nil {
		return nil, err
	}
	if len(shares) == 0 || len(shares) >= maxPostings {
		return nil, invalid("shares", "1 to %d shares, got %d", maxPostings-1, len(shares))
	}
	postings := make([]Posting, 0, len(shares)+1)
	total := decimal.Zero
	for i, s := range shares {
		field := fmt.Sprintf("shares[%d]", i)
		if !segmentRE.MatchString(s.AgencyCode) {
			return nil, invalid(field+".agency_code", "%q is not a valid agency code", s.AgencyCode)
		}
		if !serviceCodeRE.MatchString(s.ServiceCode) {
			return nil, invalid(field+".service_code", "must match %s", serviceCodeRE)
		}
		if err := checkAmount(field+".amount", s.Amount, currency); err != nil {
			return nil, err
		}
		total = total.Add(s.Amount)
		postings = append(postings, Posting{Account: AgencyCollected(s.AgencyCode), Direction: agencySide,
			Amount: s.Amount, Currency: currency, ServiceCode: s.ServiceCode, Channel: channel})
	}
	clearing := Posting{Account: GatewayClearing(gateway), Direction: agencySide.Opposite(), Amount: total, Currency: currency}
	return append([]Posting{clearing}, postings...), nil
}

// checkNames checks names that become segments of account codes; the map key
// is the input field.
func checkNames(names map[string]string) error {
	for _, field := range sortedKeys(names) {
		if !segmentRE.MatchString(names[field]) {
			return invalid(field, "%q is not a valid name (%s)", names[field], segmentRE)
		}
	}
	return nil
}

// checkIDs requires the business object ids the reference is made of.
func checkIDs(ids ...uuid.UUID) error {
	for _, id := range ids {
		if id == uuid.Nil {
			return invalid("reference", "order, attempt and refund ids must be set")
		}
	}
	return nil
}
