package statement

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// ParseCAMT reads a camt.052, camt.053 or camt.054 document with
// DefaultLimits and the strict balance rule; see Limits.ParseCAMT.
func ParseCAMT(r io.Reader, fn func(Statement, Entry) error) ([]Statement, error) {
	return DefaultLimits.ParseCAMT(r, fn)
}

// ParseCAMT reads a camt.052, camt.053 or camt.054 document (versions
// .001.02, .001.04, .001.08 and others of the same shape; namespaces are
// ignored) token by token, with the strict balance rule (see CAMTOptions). It
// calls fn, when not nil, for each entry as soon as it is decoded, with the
// header of its statement as known at that point (in a schema-valid document
// the header and balances precede the entries). An error from fn stops the
// parse and is returned wrapped.
//
// When a camt.053 statement ends, ParseCAMT checks opening + booked credits −
// booked debits = closing and fails with ErrUnbalanced (or ErrNoBalance) if it
// does not hold, and checks TxsSummry, when present, against the entries
// (ErrSummary): fn has then already seen that statement's entries, so the
// caller must treat the whole document as one unit (load it in one
// transaction and roll back on error). It returns the statements with their
// final totals.
func (lim Limits) ParseCAMT(r io.Reader, fn func(Statement, Entry) error) ([]Statement, error) {
	return CAMTOptions{Limits: lim}.ParseCAMT(r, fn)
}

// CAMTOptions choose how ParseCAMT judges a statement that contradicts
// itself.
type CAMTOptions struct {
	Limits Limits
	// Tolerant loads a camt.053 whose balances do not add up (or lack the
	// opening or closing booked balance) and a statement whose TxsSummry
	// disagrees with its entries, instead of refusing them: the statement
	// comes back with Unbalanced, Difference and a Finding saying what is
	// wrong. The default, strict rule refuses them.
	Tolerant bool
}

// ParseCAMT reads a camt document under the options; see Limits.ParseCAMT.
func (o CAMTOptions) ParseCAMT(r io.Reader, fn func(Statement, Entry) error) ([]Statement, error) {
	lim := o.Limits.withDefaults()
	src := &boundedReader{r: bufio.NewReader(r), max: lim.MaxTokenBytes}
	g := &guard{raw: xml.NewDecoder(src), src: src, lim: lim, budgetFrom: -1}
	p := &camtParser{lim: lim, tolerant: o.Tolerant, g: g, dec: xml.NewTokenDecoder(g), fn: fn, format: "camt"}
	g.raw.CharsetReader = p.charsetReader
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.stmts, nil
}

// boundedReader is the byte source of the XML tokenizer. It fails once more
// than max bytes have been read since the last reset, which the guard does at
// every token: no single token can grow without bound. It also does XML's
// end-of-line handling for a CR alone (files from old Mac systems end their
// lines so): it reads as LF, so that the tokenizer, which counts LFs, gives
// the right line in errors (CR LF stays as it is and counts once).
type boundedReader struct {
	r     *bufio.Reader
	n     int64
	max   int64
	ascii bool // the document declares US-ASCII: a byte above 0x7F is an error
}

func (b *boundedReader) ReadByte() (byte, error) {
	if b.n >= b.max {
		return 0, fmt.Errorf("%w: an XML token is longer than %d bytes", ErrLimit, b.max)
	}
	c, err := b.r.ReadByte()
	if err != nil {
		return c, err
	}
	b.n++
	switch {
	case c == '\r':
		if next, err := b.r.Peek(1); err != nil || next[0] != '\n' {
			c = '\n'
		}
	case c >= 0x80 && b.ascii:
		return 0, fmt.Errorf("%w: byte 0x%02X in a document declared US-ASCII", ErrEncoding, c)
	}
	return c, nil
}

// Read makes boundedReader the io.Reader that xml.NewDecoder requires; the
// decoder itself only calls ReadByte.
func (b *boundedReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := b.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}

// charsetReader is the tokenizer's CharsetReader, called when the XML
// declaration names an encoding other than UTF-8: ISO-8859-1 is decoded to
// UTF-8 from there on, US-ASCII is read as it is (a byte above 0x7F is an
// error), anything else is refused with ErrEncoding. The new source keeps
// the old one's bounds and line-end handling, and the guard counts on it.
func (p *camtParser) charsetReader(label string, _ io.Reader) (io.Reader, error) {
	old := p.g.src
	next := &boundedReader{r: old.r, max: old.max}
	switch charset(label) {
	case charsetUTF8:
	case charsetASCII:
		next.ascii = true
	case charsetLatin1:
		next.r = bufio.NewReader(transform.NewReader(old.r, charmap.ISO8859_1.NewDecoder()))
	default:
		p.encodingErr = fmt.Errorf("%w: the document declares encoding %q; only UTF-8, ISO-8859-1 and US-ASCII are read",
			ErrEncoding, clip(label))
		return nil, p.encodingErr
	}
	p.g.src = next
	return next, nil
}

// guard sits between the raw tokenizer and the decoder that ParseCAMT reads
// (and DecodeElement decodes from): it sees every token, so it enforces the
// nesting depth and the byte budget of an element being decoded whole.
type guard struct {
	raw        *xml.Decoder
	src        *boundedReader
	lim        Limits
	depth      int
	budgetFrom int64 // input offset where the element being decoded began; -1 when none
}

func (g *guard) Token() (xml.Token, error) {
	g.src.n = 0
	tok, err := g.raw.RawToken()
	if err != nil {
		return tok, err
	}
	switch tok.(type) {
	case xml.StartElement:
		g.depth++
		if g.depth > g.lim.MaxDepth {
			return nil, fmt.Errorf("%w: elements nested deeper than %d", ErrLimit, g.lim.MaxDepth)
		}
	case xml.EndElement:
		g.depth--
	}
	if g.budgetFrom >= 0 && g.raw.InputOffset()-g.budgetFrom > g.lim.MaxElementBytes {
		return nil, fmt.Errorf("%w: an element is longer than %d bytes", ErrLimit, g.lim.MaxElementBytes)
	}
	return tok, nil
}

// camtParser holds the state of one ParseCAMT call.
type camtParser struct {
	lim      Limits
	tolerant bool
	g        *guard
	dec      *xml.Decoder
	fn       func(Statement, Entry) error
	format   string // for errors: "camt" until the message element is seen
	stmts    []Statement

	// encodingErr is the refusal of a declared encoding, to be reported
	// without the tokenizer's wrapping.
	encodingErr error

	// current message
	kind       Kind
	version    string
	msgID      string
	msgCreated string

	// current statement and entry, for error positions
	stmt  *Statement
	entry int
}

// fail turns err into a *ParseError at the current position.
func (p *camtParser) fail(err error) error {
	line, col := p.g.raw.InputPos()
	return p.failAt(line, col, err)
}

func (p *camtParser) failAt(line, col int, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		return err
	}
	if p.encodingErr != nil && errors.Is(err, p.encodingErr) {
		err = p.encodingErr
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) { // the decoder's own line number may be that of the inner stage: use ours
		err = formatErr("xml: %s", se.Msg)
	}
	var ue xml.UnmarshalError
	if errors.As(err, &ue) {
		err = formatErr("xml: %s", string(ue))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = formatErr("unexpected end of input")
	}
	pe = &ParseError{Format: p.format, Line: line, Column: col, Entry: p.entry, Err: err}
	if p.stmt != nil {
		pe.Statement, pe.StatementID = p.stmt.Seq, p.stmt.StatementID
	}
	return pe
}

// next returns the next start or end element, skipping other tokens; io.EOF at
// the end of a well-formed document.
func (p *camtParser) next() (xml.Token, error) {
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok.(type) {
		case xml.StartElement, xml.EndElement:
			return tok, nil
		}
	}
}

// decode decodes the element that start opened into v, within the element
// byte budget.
func (p *camtParser) decode(v any, start xml.StartElement) error {
	p.g.budgetFrom = p.g.raw.InputOffset()
	defer func() { p.g.budgetFrom = -1 }()
	return p.dec.DecodeElement(v, &start)
}

func (p *camtParser) decodeText(start xml.StartElement) (string, error) {
	var s string
	err := p.decode(&s, start)
	return trim(s), err
}

// camtMessages are the message elements ParseCAMT reads, with the element of
// each statement they hold.
var camtMessages = map[string]struct {
	kind      Kind
	container string
}{
	"BkToCstmrAcctRpt":      {KindCAMT052, "Rpt"},
	"BkToCstmrStmt":         {KindCAMT053, "Stmt"},
	"BkToCstmrDbtCdtNtfctn": {KindCAMT054, "Ntfctn"},
}

func (p *camtParser) run() error {
	for {
		tok, err := p.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p.fail(err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		m, ok := camtMessages[start.Name.Local]
		if !ok {
			continue // Document or an envelope around it: look inside
		}
		if err := p.message(m.kind, m.container, start); err != nil {
			return p.fail(err)
		}
	}
	if len(p.stmts) == 0 {
		return p.fail(formatErr("no BkToCstmrStmt/Stmt, BkToCstmrAcctRpt/Rpt or BkToCstmrDbtCdtNtfctn/Ntfctn found"))
	}
	return nil
}

var camtNamespace = regexp.MustCompile(`camt\.(05[0-9])\.([0-9]{3}\.[0-9]{2})`)

// message reads one BkToCstmrStmt, BkToCstmrAcctRpt or BkToCstmrDbtCdtNtfctn
// element.
func (p *camtParser) message(kind Kind, container string, start xml.StartElement) error {
	p.kind, p.format, p.version, p.msgID, p.msgCreated = kind, string(kind), "", "", ""
	if m := camtNamespace.FindStringSubmatch(start.Name.Space); m != nil {
		if "camt."+m[1] != string(kind) {
			return formatErr("%s element in namespace %q", start.Name.Local, clip(start.Name.Space))
		}
		p.version = m[2]
	}
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			return nil // end of the message
		}
		switch el.Name.Local {
		case "GrpHdr":
			var h xmlGrpHdr
			if err := p.decode(&h, el); err != nil {
				return err
			}
			p.msgID, p.msgCreated = trim(h.MsgID), h.CreDtTm
		case container:
			if p.msgID == "" {
				return formatErr("%s before GrpHdr/MsgId", container)
			}
			if err := p.statement(el); err != nil {
				return err
			}
		case "Stmt", "Rpt", "Ntfctn":
			return formatErr("%s inside %s", el.Name.Local, start.Name.Local)
		default:
			if err := p.dec.Skip(); err != nil {
				return err
			}
		}
	}
}

// tally counts entries and sums their amounts, for the TxsSummry check.
type tally struct {
	n, credits, debits       int64
	sum, creditSum, debitSum decimal.Decimal
}

func (t *tally) add(e Entry) {
	t.n++
	t.sum = t.sum.Add(e.Amount)
	if e.Credit {
		t.credits++
		t.creditSum = t.creditSum.Add(e.Amount)
	} else {
		t.debits++
		t.debitSum = t.debitSum.Add(e.Amount)
	}
}

// stmtState is what a statement accumulates besides its header.
type stmtState struct {
	st         Statement
	opbd, prcd *Balance
	balances   []string        // every balance type given, in order, for messages
	seen       map[string]bool // header elements already read, to refuse repeats

	all, booked tally
	findings    map[string]*Finding
	order       []string // finding codes in the order first seen
	// lateValue is the signed sum of the booked entries valued after the
	// closing balance's date.
	lateValue decimal.Decimal
}

func (p *camtParser) statement(start xml.StartElement) error {
	if len(p.stmts) >= p.lim.MaxStatements {
		return fmt.Errorf("%w: more than %d statements", ErrLimit, p.lim.MaxStatements)
	}
	s := &stmtState{
		st:       Statement{Kind: p.kind, Version: p.version, MessageID: p.msgID, Seq: len(p.stmts) + 1},
		seen:     map[string]bool{},
		findings: map[string]*Finding{},
	}
	if p.msgCreated != "" {
		t, err := parseISODateTime(p.msgCreated)
		if err != nil {
			return fmt.Errorf("GrpHdr/CreDtTm: %w", err)
		}
		s.st.Created = t
	}
	p.stmt = &s.st
	defer func() { p.stmt, p.entry = nil, 0 }()
	for {
		tok, err := p.next()
		if err != nil {
			return p.fail(err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			break
		}
		if err := p.statementChild(s, el); err != nil {
			return p.fail(err)
		}
	}
	p.entry = 0
	if err := s.finish(p.tolerant); err != nil {
		return p.fail(err)
	}
	p.stmts = append(p.stmts, s.st)
	return nil
}

// headerOnce lists the statement children that may appear only once.
var headerOnce = map[string]bool{"Id": true, "ElctrncSeqNb": true, "CreDtTm": true, "FrToDt": true, "Acct": true, "TxsSummry": true}

func (p *camtParser) statementChild(s *stmtState, el xml.StartElement) error {
	name := el.Name.Local
	if headerOnce[name] {
		if s.seen[name] {
			return formatErr("%s repeated in a statement", name)
		}
		s.seen[name] = true
	}
	switch name {
	case "Id", "ElctrncSeqNb", "CreDtTm":
		return p.headerText(&s.st, el)
	case "FrToDt":
		var x xmlFrToDt
		if err := p.decode(&x, el); err != nil {
			return err
		}
		return x.apply(&s.st)
	case "Acct":
		var x xmlAcct
		if err := p.decode(&x, el); err != nil {
			return err
		}
		return x.apply(&s.st)
	case "Bal":
		if p.kind == KindCAMT054 {
			return p.dec.Skip()
		}
		var x xmlBal
		if err := p.decode(&x, el); err != nil {
			return err
		}
		b, err := x.balance()
		if err != nil {
			return err
		}
		return s.addBalance(b)
	case "TxsSummry":
		var x xmlTxsSummry
		if err := p.decode(&x, el); err != nil {
			return err
		}
		sum, err := x.summary()
		if err != nil {
			return err
		}
		s.st.Summary = sum
		return nil
	case "Ntry":
		return p.entryElement(s, el)
	}
	return p.dec.Skip()
}

func (p *camtParser) headerText(st *Statement, el xml.StartElement) error {
	v, err := p.decodeText(el)
	if err != nil {
		return err
	}
	switch el.Name.Local {
	case "Id":
		st.StatementID = v
	case "ElctrncSeqNb":
		st.ElectronicSeq = v
	case "CreDtTm":
		t, err := parseISODateTime(v)
		if err != nil {
			return fmt.Errorf("CreDtTm: %w", err)
		}
		st.Created = t
	}
	return nil
}

func (p *camtParser) entryElement(s *stmtState, el xml.StartElement) error {
	p.entry = s.st.Entries + 1
	line, col := p.g.raw.InputPos()
	var x xmlEntry
	if err := p.decode(&x, el); err != nil {
		return err
	}
	e, err := x.entry()
	if err == nil {
		err = s.checkCurrency(e)
	}
	if err != nil {
		return p.failAt(line, col, err)
	}
	e.Seq = p.entry
	s.st.Entries++
	s.all.add(e)
	if e.Booked() {
		s.booked.add(e)
		if e.Credit {
			s.st.BookedCredits = s.st.BookedCredits.Add(e.Amount)
		} else {
			s.st.BookedDebits = s.st.BookedDebits.Add(e.Amount)
		}
	}
	s.flag(&e)
	if p.fn == nil {
		return nil
	}
	if err := p.fn(s.st, e); err != nil {
		return p.failAt(line, col, err)
	}
	return nil
}

// checkCurrency holds every entry to the statement's one currency: the
// account's, else the first balance's, else (a camt.054 without Acct/Ccy)
// the first entry's.
func (s *stmtState) checkCurrency(e Entry) error {
	if s.st.Currency == "" {
		s.st.Currency = e.Currency
		return nil
	}
	if e.Currency != s.st.Currency {
		what := "statement"
		switch s.st.Kind {
		case KindCAMT054:
			what = "notification"
		case KindCAMT052:
			what = "report"
		}
		return formatErr("entry in %s on a %s %s", e.Currency, s.st.Currency, what)
	}
	return nil
}

// flag sets the entry-level findings of e, as far as the header read so far
// allows (a schema-valid statement gives its period and balances before its
// entries).
func (s *stmtState) flag(e *Entry) {
	st := &s.st
	if !e.BookingDate.IsZero() && outsidePeriod(e.BookingDate, st.From, st.To) {
		e.Flags = append(e.Flags, FindingBookedOutsidePeriod)
	}
	if st.Closing != nil && !e.ValueDate.IsZero() && !st.Closing.Date.IsZero() &&
		businessDay(e.ValueDate).After(businessDay(st.Closing.Date)) {
		e.Flags = append(e.Flags, FindingValueAfterClosing)
		if e.Booked() {
			s.lateValue = s.lateValue.Add(e.Signed())
		}
	}
	entryDir := "DBIT"
	if e.Credit {
		entryDir = "CRDT"
	}
	for _, tx := range e.TxDetails {
		if tx.CreditDebit != "" && tx.CreditDebit != entryDir {
			e.Flags = append(e.Flags, FindingDirectionDisagrees)
			break
		}
	}
	for _, b := range e.Batches {
		if b.NumberOfTxs > 0 && b.Transactions > 0 && b.NumberOfTxs != int64(b.Transactions) {
			e.Flags = append(e.Flags, FindingBatchCountMismatch)
			break
		}
	}
	for _, code := range e.Flags {
		f := s.finding(code, entryFindingDetail[code])
		f.Count++
		if len(f.Entries) < MaxFindingEntries {
			f.Entries = append(f.Entries, e.Seq)
		}
	}
}

var entryFindingDetail = map[string]string{
	FindingBookedOutsidePeriod: "entries booked outside the statement's period (FrToDt)",
	FindingValueAfterClosing:   "entries valued after the closing balance's date",
	FindingDirectionDisagrees:  "entries with a transaction whose CdtDbtInd is not the entry's",
	FindingBatchCountMismatch:  "batch entries whose NbOfTxs is not the number of transactions given",
}

// outsidePeriod reports whether a booking date is outside [from, to]: a
// date-time by the instant, a date alone (midnight) by its day.
func outsidePeriod(t, from, to time.Time) bool {
	if isMidnightICT(t) {
		return (!from.IsZero() && t.Before(businessDay(from))) || (!to.IsZero() && t.After(businessDay(to)))
	}
	return (!from.IsZero() && t.Before(from)) || (!to.IsZero() && t.After(to))
}

// finding returns the statement's finding of code, adding it when new.
func (s *stmtState) finding(code, detail string) *Finding {
	f, ok := s.findings[code]
	if !ok {
		f = &Finding{Code: code, Detail: detail}
		s.findings[code] = f
		s.order = append(s.order, code)
	}
	return f
}

func (s *stmtState) addBalance(b Balance) error {
	if b.Type != "" {
		s.balances = append(s.balances, b.Type)
	}
	var slot **Balance
	switch b.Type {
	case BalanceOpening:
		slot = &s.opbd
	case BalancePreviousClosing:
		slot = &s.prcd
	case BalanceClosing:
		slot = &s.st.Closing
	case BalanceInterim:
		slot = &s.st.Interim
	default:
		return nil // interim available, available, forward balances: not used
	}
	if *slot != nil {
		return formatErr("balance %s repeated", b.Type)
	}
	if s.st.Currency == "" {
		s.st.Currency = b.Currency
	}
	if b.Currency != s.st.Currency {
		return formatErr("%s balance in %s on a %s statement", b.Type, b.Currency, s.st.Currency)
	}
	*slot = &b
	s.st.Opening = s.opbd
	if s.st.Opening == nil {
		s.st.Opening = s.prcd
	}
	return nil
}

// finish checks a statement once its end tag is read.
func (s *stmtState) finish(tolerant bool) error {
	st := &s.st
	if st.StatementID == "" {
		return formatErr("statement without Id")
	}
	if st.Account == "" {
		return formatErr("statement without Acct/Id")
	}
	if err := s.checkBalances(tolerant); err != nil {
		return err
	}
	if err := s.checkSummary(tolerant); err != nil {
		return err
	}
	for _, code := range s.order {
		st.Findings = append(st.Findings, *s.findings[code])
	}
	return nil
}

// checkBalances holds a camt.053 to opening + booked entries = closing. A
// camt.052 is a position during the day and a camt.054 has no balances:
// neither is checked.
func (s *stmtState) checkBalances(tolerant bool) error {
	st := &s.st
	if st.Kind != KindCAMT053 {
		return nil
	}
	if st.Opening == nil || st.Closing == nil {
		err := fmt.Errorf("%w: %s", ErrNoBalance, s.missingBalances())
		if !tolerant {
			return err
		}
		s.finding(FindingBalanceMissing, s.missingBalances()+": the balances are not checked")
		return nil
	}
	entries := st.BookedCredits.Sub(st.BookedDebits)
	want := st.Opening.Amount.Add(entries)
	if want.Equal(st.Closing.Amount) {
		return nil
	}
	diff := want.Sub(st.Closing.Amount)
	msg := fmt.Sprintf("opening %s + entries %s = %s, closing says %s: difference %s %s",
		st.Opening.Amount, entries, want, st.Closing.Amount, diff, st.Currency)
	if f := s.findings[FindingValueAfterClosing]; f != nil {
		n := fmt.Sprintf("%d entries are", f.Count)
		if f.Count == 1 {
			n = "1 entry is"
		}
		msg += fmt.Sprintf("; %s valued after the closing balance's date %s, booked for %s %s",
			n, businessDay(st.Closing.Date).Format(isoDate), s.lateValue, st.Currency)
		if s.lateValue.Equal(diff) {
			msg += ", which is the difference"
		}
	}
	if !tolerant {
		return fmt.Errorf("%w: %s", ErrUnbalanced, msg)
	}
	st.Unbalanced, st.Difference = true, diff
	s.finding(FindingUnbalanced, msg)
	return nil
}

// missingBalances says which booked balance a camt.053 lacks, and which
// balances it has.
func (s *stmtState) missingBalances() string {
	var missing []string
	if s.st.Opening == nil {
		missing = append(missing, "opening booked balance (OPBD or PRCD)")
	}
	if s.st.Closing == nil {
		missing = append(missing, "closing booked balance (CLBD)")
	}
	msg := "no " + strings.Join(missing, " and no ")
	if len(missing) == 0 {
		msg = "no booked balance missing"
	}
	if len(s.balances) == 0 {
		return msg + "; it has no balance at all"
	}
	return msg + "; its balances are " + strings.Join(s.balances, ", ")
}

// checkSummary holds the entries to the statement's TxsSummry. Banks count
// either all the entries of the statement (as ISO 20022 defines it) or its
// booked entries alone: the summary must agree with one of the two.
func (s *stmtState) checkSummary(tolerant bool) error {
	sum := s.st.Summary
	if sum == nil {
		return nil
	}
	diffAll := summaryDiffs(sum, s.all)
	if len(diffAll) == 0 || len(summaryDiffs(sum, s.booked)) == 0 {
		return nil
	}
	msg := "TxsSummry disagrees with the entries: " + strings.Join(diffAll, "; ")
	if !tolerant {
		return fmt.Errorf("%w: %s", ErrSummary, strings.TrimPrefix(msg, "TxsSummry disagrees with the entries: "))
	}
	s.finding(FindingSummaryMismatch, msg)
	return nil
}

// summaryDiffs lists where sum disagrees with t.
func summaryDiffs(sum *Summary, t tally) []string {
	var out []string
	check := func(what string, st *SummaryTotal, n int64, total decimal.Decimal) {
		if st == nil {
			return
		}
		if st.Count != nil && *st.Count != n {
			out = append(out, fmt.Sprintf("%s: %d said, %d given", what, *st.Count, n))
		}
		if st.Sum != nil && !st.Sum.Equal(total) {
			out = append(out, fmt.Sprintf("%s sum: %s said, %s given", what, st.Sum, total))
		}
	}
	check("entries", sum.Entries, t.n, t.sum)
	check("credit entries", sum.Credits, t.credits, t.creditSum)
	check("debit entries", sum.Debits, t.debits, t.debitSum)
	if sum.Net != nil {
		if net := t.creditSum.Sub(t.debitSum); !sum.Net.Equal(net) {
			out = append(out, fmt.Sprintf("net: %s said, %s given", sum.Net, net))
		}
	}
	return out
}
