package gatewaysim

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/civicpay/civicpay/gateways/vietqr"
	"github.com/civicpay/civicpay/reconciliation/statement"
	"github.com/shopspring/decimal"
)

// payout is a gateway paying one day's settlement net into the treasury
// account. Once made it never changes, whatever later revisions say.
type payout struct {
	Gateway    string `json:"gateway"`
	Day        string `json:"day"` // the business day settled
	FileID     string `json:"file_id"`
	Net        int64  `json:"net"`         // signed: negative when the gateway takes money back
	BookingDay string `json:"booking_day"` // Day + the settlement lag
	BankRef    string `json:"bank_ref"`
	Omitted    bool   `json:"omitted,omitempty"` // a discrepancy: the bank never booked it
}

// BankDiscrepancies are injected into the treasury bank's statements.
type BankDiscrepancies struct {
	// OmitSettlement arms, per gateway, the omission of its next settlement
	// credit: the payout is made in the simulator's books but the bank
	// statement never shows it.
	OmitSettlement []string `json:"omit_settlement,omitempty"`
	// UnknownCredit books at once a credit of this many VND that names no
	// reference, with UnknownCreditText (default "CK NHAM TAI KHOAN").
	UnknownCredit     int64  `json:"unknown_credit,omitempty"`
	UnknownCreditText string `json:"unknown_credit_text,omitempty"`
}

// Discrepancies are the armed discrepancies.
type Discrepancies struct {
	Files          map[string]FileDiscrepancies `json:"files"`
	OmitSettlement []string                     `json:"omit_settlement"`
}

// SetFileDiscrepancies arms d for gateway's next settlement file (an empty
// d disarms).
func (s *Sim) SetFileDiscrepancies(gateway string, d FileDiscrepancies) error {
	if !knownGateway(gateway) {
		return invalidGateway(gateway)
	}
	if d.FeeDelta < -maxAmount || d.FeeDelta > maxAmount {
		return invalid("fee_delta %d out of range", d.FeeDelta)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.empty() {
		delete(s.st.fileFaults, gateway)
	} else {
		s.st.fileFaults[gateway] = d
	}
	return nil
}

// SetBankDiscrepancies arms omitted settlement credits and books an unknown
// credit; it returns that credit when one was booked.
func (s *Sim) SetBankDiscrepancies(d BankDiscrepancies) (*Transfer, error) {
	for _, g := range d.OmitSettlement {
		if !knownGateway(g) {
			return nil, invalidGateway(g)
		}
	}
	if d.UnknownCredit < 0 {
		return nil, invalid("unknown_credit %d is negative", d.UnknownCredit)
	}
	var credit *Transfer
	if d.UnknownCredit > 0 {
		text := d.UnknownCreditText
		if text == "" {
			text = "CK NHAM TAI KHOAN"
		}
		t, err := s.Transfer(TransferRequest{Amount: d.UnknownCredit, Text: text})
		if err != nil {
			return nil, err
		}
		credit = &t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range d.OmitSettlement {
		s.st.omitPayout[g] = true
	}
	return credit, nil
}

// Discrepancies returns the armed discrepancies.
func (s *Sim) Discrepancies() Discrepancies {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := Discrepancies{Files: map[string]FileDiscrepancies{}, OmitSettlement: []string{}}
	for g, f := range s.st.fileFaults {
		d.Files[g] = f
	}
	for _, g := range gatewayNames {
		if s.st.omitPayout[g] {
			d.OmitSettlement = append(d.OmitSettlement, g)
		}
	}
	return d
}

// TransferRequest is a credit to the treasury account: a citizen's VietQR
// transfer, or (without Reference or QR) money nobody can place.
type TransferRequest struct {
	Reference string `json:"reference,omitempty"` // the order's payment reference
	Amount    int64  `json:"amount,omitempty"`    // whole VND
	// QR is a VietQR payload as the citizen's bank app scanned it: its
	// amount and purpose fill Amount and Reference when those are empty,
	// and it must name the treasury account.
	QR string `json:"qr,omitempty"`
	// Text is the remittance text as the bank shows it (default: bank
	// noise around Reference and Payer).
	Text  string `json:"text,omitempty"`
	Payer string `json:"payer,omitempty"` // default NGUYEN VAN AN
	// BookedAt defaults to now and may not be in the future. Booking on a
	// day whose statement was already fetched changes that day's totals.
	BookedAt time.Time `json:"booked_at,omitzero"`
}

// Transfer books a credit on the treasury account.
func (s *Sim) Transfer(req TransferRequest) (Transfer, error) {
	if req.QR != "" {
		p, err := vietqr.Parse(req.QR)
		switch {
		case err != nil:
			return Transfer{}, invalid("qr: %v", err)
		case p.BankBIN != s.cfg.Bank.BIN || p.Account != s.cfg.Bank.Account:
			return Transfer{}, invalid("qr names account %s at %s, not the treasury account", p.Account, p.BankBIN)
		}
		if req.Reference == "" {
			req.Reference = p.Purpose
		}
		if req.Amount == 0 {
			req.Amount = p.Amount.IntPart()
		}
	}
	now := s.cfg.Now()
	if req.BookedAt.IsZero() {
		req.BookedAt = now
	}
	if req.Payer == "" {
		req.Payer = "NGUYEN VAN AN"
	}
	switch {
	case req.Amount <= 0 || req.Amount > maxAmount:
		return Transfer{}, invalid("amount %d: want 1 to %d VND", req.Amount, int64(maxAmount))
	case req.BookedAt.After(now):
		return Transfer{}, invalid("booked_at %s is in the future", req.BookedAt.Format(time.RFC3339))
	case len(req.Reference) > 35 || len(req.Payer) > 70 || utf8.RuneCountInString(req.Text) > 420:
		return Transfer{}, invalid("reference (35), payer (70) or text (420 characters) too long")
	case !utf8.ValidString(req.Text+req.Payer+req.Reference) || strings.ContainsFunc(req.Text+req.Payer+req.Reference, isControl):
		return Transfer{}, invalid("reference, payer and text must be printable UTF-8")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Transfer{ID: s.st.bankRef(), Reference: req.Reference, Amount: req.Amount, Text: req.Text,
		BookedAt: req.BookedAt.UTC()}
	switch {
	case t.Text != "":
	case req.Reference != "":
		// What a payer's bank writes: its own references around the memo.
		t.Text = fmt.Sprintf("MBVCB.%s.%s.CT tu 0123456789 %s", strings.TrimPrefix(t.ID, bankRefPrefix), req.Reference, req.Payer)
	default:
		t.Text = fmt.Sprintf("MBVCB.%s.CT tu 0123456789 %s chuyen tien", strings.TrimPrefix(t.ID, bankRefPrefix), req.Payer)
	}
	s.st.transfers = append(s.st.transfers, t)
	s.st.log(&record{Op: opTransfer, Transfer: &t})
	return t, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Transfers lists the booked transfers, oldest first.
func (s *Sim) Transfers() []Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.st.transfers)
}

// ensurePayouts makes every payout booked on or before the day starting at
// upTo, issuing the settlement files they pay. The caller holds s.mu.
func (s *Sim) ensurePayouts(upTo time.Time) error {
	for _, g := range gatewayNames {
		days := make([]string, 0, len(s.st.days[g]))
		for d := range s.st.days[g] {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days {
			day, err := ParseDay(d)
			if err != nil {
				return err
			}
			booking := day.AddDate(0, 0, s.cfg.Bank.SettlementLagDays)
			if booking.After(upTo) || s.st.payouts[fileKey{g, d}] != nil {
				continue
			}
			f, err := s.latestFile(g, day)
			if err != nil {
				return err
			}
			p := &payout{Gateway: g, Day: d, FileID: f.Info.FileID, Net: f.Info.Net,
				BookingDay: dayString(booking), BankRef: s.st.bankRef(), Omitted: s.st.omitPayout[g]}
			s.st.payouts[fileKey{g, d}] = p
			delete(s.st.omitPayout, g)
			s.st.log(&record{Op: opPayout, Payout: p})
		}
	}
	return nil
}

// payoutText is the remittance text of a settlement transfer: the file id
// with the bank noise each gateway's transfers come with.
func payoutText(p *payout) string {
	parts := strings.Split(p.FileID, "-")
	ref := strings.TrimLeft(strings.TrimPrefix(p.BankRef, bankRefPrefix), "0")
	switch p.Gateway {
	case VNPAY:
		return "CK TU VNPAY " + strings.Join(parts, " ") + " /REF " + ref
	case MoMo:
		day, _ := ParseDay(p.Day) // written by dayString
		return "CTY CP DV MOMO TT QUYET TOAN " + strings.ToLower(p.FileID) + " NGAY " + day.Format("02/01/2006")
	default:
		return "ZALOPAY QUYET TOAN " + strings.Join(parts, "_") + ".FT" + ref
	}
}

// bankEntry is an entry on the treasury account.
type bankEntry struct {
	at     time.Time
	signed int64
	entry  statement.Entry
}

func vnd(n int64) decimal.Decimal { return decimal.NewFromInt(n) }

// newEntry is a booked entry of signed VND with one transaction detail.
func newEntry(signed int64, booked, value time.Time, bankRef, endToEnd, info string, texts []string) bankEntry {
	amount := vnd(signed).Abs()
	return bankEntry{at: booked, signed: signed, entry: statement.Entry{
		Amount: amount, Currency: "VND", Credit: signed > 0, Status: statement.StatusBooked,
		BookingDate: booked, ValueDate: value, AcctSvcrRef: bankRef, AdditionalInfo: info,
		TxDetails: []statement.TxDetail{{EndToEndID: endToEnd, TxID: bankRef, Amount: amount, Currency: "VND",
			RemittanceInfo: texts}},
	}}
}

// entry is the settlement transfer, booked on the booking day.
func (p *payout) entry() bankEntry {
	day, _ := ParseDay(p.BookingDay) // written by dayString
	return newEntry(p.Net, day, day, p.BankRef, "NOTPROVIDED", strings.ToUpper(p.Gateway)+" QUYET TOAN",
		[]string{payoutText(p)})
}

// entry is the transfer as the bank books it.
func (t Transfer) entry() bankEntry {
	return newEntry(t.Amount, t.BookedAt, midnight(t.BookedAt), t.ID, t.ID, "IBFT NAPAS 247", chunks(t.Text, 140))
}

// chunks cuts s into pieces of at most n characters (Ustrd lines).
func chunks(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	if len(r) > 0 {
		out = append(out, string(r))
	}
	return out
}

// entriesBetween sums what is booked before from and lists what is booked
// in [from, to), in time order. The caller holds s.mu.
func (s *Sim) entriesBetween(from, to time.Time) (before int64, in []bankEntry) {
	add := func(e bankEntry) {
		switch {
		case e.at.Before(from):
			before += e.signed
		case e.at.Before(to):
			in = append(in, e)
		}
	}
	for _, p := range s.st.payouts {
		if !p.Omitted && p.Net != 0 {
			add(p.entry())
		}
	}
	for _, t := range s.st.transfers {
		add(t.entry())
	}
	slices.SortStableFunc(in, func(a, b bankEntry) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.entry.AcctSvcrRef, b.entry.AcctSvcrRef))
	})
	return before, in
}

// CAMT053 is the treasury account's camt.053 statement for the business
// day starting at day: the settlement credits booked that day (one per
// gateway and settled day, the net of its settlement file, with the file id
// in RmtInf/Ustrd among bank noise) and the transfers. The opening balance
// is BankConfig.OpeningBalance plus everything booked before; the closing
// balance adds the day's entries. A past day's statement is the same every
// time it is asked for; today's grows as the day goes on.
func (s *Sim) CAMT053(day time.Time) ([]byte, error) {
	if err := s.checkDay(day); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	next := day.AddDate(0, 0, 1)
	s.mu.Lock()
	err := s.ensurePayouts(day)
	before, in := s.entriesBetween(day, next)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	compact := day.Format("20060102")
	created, msgID := next.Add(-time.Second), "GWSIM053-"+compact
	if now.Before(next) {
		created, msgID = now, msgID+"-"+now.In(ICT).Format("150405")
	}
	st := statement.Statement{
		MessageID: msgID, StatementID: "STMT-" + compact, Created: created, From: day, To: next.Add(-time.Second),
		Account: s.cfg.Bank.Account, Currency: "VND",
		Opening: &statement.Balance{Type: statement.BalanceOpening, Amount: vnd(s.cfg.Bank.OpeningBalance + before),
			Currency: "VND", Date: day},
	}
	var buf bytes.Buffer
	if err := statement.WriteCAMT053(&buf, st, entriesOf(in)); err != nil {
		return nil, fmt.Errorf("gatewaysim: camt.053 %s: %w", dayString(day), err)
	}
	return buf.Bytes(), nil
}

func entriesOf(in []bankEntry) []statement.Entry {
	out := make([]statement.Entry, len(in))
	for i, e := range in {
		out[i] = e.entry
	}
	return out
}

// MaxNotified bounds the entries of one camt.054.
const MaxNotified = 10000

// CAMT054 is a camt.054 credit notification of the transfers booked after
// since, oldest first, at most limit of them (default and maximum
// MaxNotified). Ask again from the last entry's booking time for more.
func (s *Sim) CAMT054(since time.Time, limit int) ([]byte, error) {
	if limit <= 0 || limit > MaxNotified {
		limit = MaxNotified
	}
	now := s.cfg.Now()
	s.mu.Lock()
	var in []bankEntry
	for _, t := range s.st.transfers {
		if t.BookedAt.After(since) {
			in = append(in, t.entry())
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(in, func(a, b bankEntry) int { return a.at.Compare(b.at) })
	in = in[:min(len(in), limit)]
	id := "NTF-" + now.In(ICT).Format("20060102150405")
	if len(in) > 0 {
		id = "NTF-" + in[0].entry.AcctSvcrRef + "-" + strings.TrimPrefix(in[len(in)-1].entry.AcctSvcrRef, bankRefPrefix)
	}
	st := statement.Statement{MessageID: "GWSIM054-" + now.In(ICT).Format("20060102150405.000"), StatementID: id,
		Created: now, Account: s.cfg.Bank.Account, Currency: "VND"}
	var buf bytes.Buffer
	if err := statement.WriteCAMT054(&buf, st, entriesOf(in)); err != nil {
		return nil, fmt.Errorf("gatewaysim: camt.054: %w", err)
	}
	return buf.Bytes(), nil
}
