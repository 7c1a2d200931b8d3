package statement

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// ParseCAMT reads a camt.053 or camt.054 document with DefaultLimits; see
// Limits.ParseCAMT.
func ParseCAMT(r io.Reader, fn func(Statement, Entry) error) ([]Statement, error) {
	return DefaultLimits.ParseCAMT(r, fn)
}

// ParseCAMT reads a camt.053 or camt.054 document (versions .001.02, .001.04,
// .001.08 and others of the same shape; namespaces are ignored) token by token.
// It calls fn, when not nil, for each entry as soon as it is decoded, with the
// header of its statement as known at that point (in a schema-valid document
// the header and balances precede the entries). An error from fn stops the
// parse and is returned wrapped.
//
// When a camt.053 statement ends, ParseCAMT checks opening + booked credits −
// booked debits = closing and fails with ErrUnbalanced (or ErrNoBalance) if it
// does not hold: fn has then already seen that statement's entries, so the
// caller must treat the whole document as one unit (load it in one
// transaction and roll back on error). It returns the statements with their
// final totals.
func (lim Limits) ParseCAMT(r io.Reader, fn func(Statement, Entry) error) ([]Statement, error) {
	lim = lim.withDefaults()
	src := &boundedReader{r: bufio.NewReader(r), max: lim.MaxTokenBytes}
	g := &guard{raw: xml.NewDecoder(src), src: src, lim: lim, budgetFrom: -1}
	p := &camtParser{lim: lim, g: g, dec: xml.NewTokenDecoder(g), fn: fn, format: "camt"}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.stmts, nil
}

// boundedReader is the byte source of the XML tokenizer. It fails once more
// than max bytes have been read since the last reset, which the guard does at
// every token: no single token can grow without bound.
type boundedReader struct {
	r   *bufio.Reader
	n   int64
	max int64
}

func (b *boundedReader) ReadByte() (byte, error) {
	if b.n >= b.max {
		return 0, fmt.Errorf("%w: an XML token is longer than %d bytes", ErrLimit, b.max)
	}
	c, err := b.r.ReadByte()
	if err == nil {
		b.n++
	}
	return c, err
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
	lim    Limits
	g      *guard
	dec    *xml.Decoder
	fn     func(Statement, Entry) error
	format string // for errors: "camt" until the message element is seen
	stmts  []Statement

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
		switch start.Name.Local {
		case "BkToCstmrStmt":
			err = p.message(KindCAMT053, start)
		case "BkToCstmrDbtCdtNtfctn":
			err = p.message(KindCAMT054, start)
		default:
			continue // Document or an envelope around it: look inside
		}
		if err != nil {
			return p.fail(err)
		}
	}
	if len(p.stmts) == 0 {
		return p.fail(formatErr("no BkToCstmrStmt/Stmt or BkToCstmrDbtCdtNtfctn/Ntfctn found"))
	}
	return nil
}

var camtNamespace = regexp.MustCompile(`camt\.(05[0-9])\.([0-9]{3}\.[0-9]{2})`)

// message reads one BkToCstmrStmt or BkToCstmrDbtCdtNtfctn element.
func (p *camtParser) message(kind Kind, start xml.StartElement) error {
	p.kind, p.format, p.version, p.msgID, p.msgCreated = kind, string(kind), "", "", ""
	if m := camtNamespace.FindStringSubmatch(start.Name.Space); m != nil {
		if "camt."+m[1] != string(kind) {
			return formatErr("%s element in namespace %q", start.Name.Local, clip(start.Name.Space))
		}
		p.version = m[2]
	}
	container, other := "Stmt", "Ntfctn"
	if kind == KindCAMT054 {
		container, other = other, container
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
		case other:
			return formatErr("%s inside %s", other, start.Name.Local)
		default:
			if err := p.dec.Skip(); err != nil {
				return err
			}
		}
	}
}

// stmtState is what a statement accumulates besides its header.
type stmtState struct {
	st         Statement
	opbd, prcd *Balance
	seen       map[string]bool // header elements already read, to refuse repeats
}

func (p *camtParser) statement(start xml.StartElement) error {
	if len(p.stmts) >= p.lim.MaxStatements {
		return fmt.Errorf("%w: more than %d statements", ErrLimit, p.lim.MaxStatements)
	}
	s := &stmtState{
		st:   Statement{Kind: p.kind, Version: p.version, MessageID: p.msgID, Seq: len(p.stmts) + 1},
		seen: map[string]bool{},
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
	if err := s.finish(); err != nil {
		return p.fail(err)
	}
	p.stmts = append(p.stmts, s.st)
	return nil
}

// headerOnce lists the statement children that may appear only once.
var headerOnce = map[string]bool{"Id": true, "ElctrncSeqNb": true, "CreDtTm": true, "FrToDt": true, "Acct": true}

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
		if p.kind != KindCAMT053 {
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
	if err == nil && s.st.Currency != "" && e.Currency != s.st.Currency {
		err = formatErr("entry in %s on a %s statement", e.Currency, s.st.Currency)
	}
	if err != nil {
		return p.failAt(line, col, err)
	}
	e.Seq = p.entry
	s.st.Entries++
	if e.Booked() {
		if e.Credit {
			s.st.BookedCredits = s.st.BookedCredits.Add(e.Amount)
		} else {
			s.st.BookedDebits = s.st.BookedDebits.Add(e.Amount)
		}
	}
	if p.fn == nil {
		return nil
	}
	if err := p.fn(s.st, e); err != nil {
		return p.failAt(line, col, err)
	}
	return nil
}

func (s *stmtState) addBalance(b Balance) error {
	var slot **Balance
	switch b.Type {
	case BalanceOpening:
		slot = &s.opbd
	case BalancePreviousClosing:
		slot = &s.prcd
	case BalanceClosing:
		slot = &s.st.Closing
	default:
		return nil // interim, available, forward balances: not used
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
func (s *stmtState) finish() error {
	st := &s.st
	if st.StatementID == "" {
		return formatErr("statement without Id")
	}
	if st.Account == "" {
		return formatErr("statement without Acct/Id")
	}
	if st.Kind != KindCAMT053 {
		return nil
	}
	if st.Opening == nil || st.Closing == nil {
		return fmt.Errorf("%w: needs OPBD (or PRCD) and CLBD", ErrNoBalance)
	}
	entries := st.BookedCredits.Sub(st.BookedDebits)
	want := st.Opening.Amount.Add(entries)
	if !want.Equal(st.Closing.Amount) {
		return fmt.Errorf("%w: opening %s + entries %s = %s, closing says %s: difference %s %s",
			ErrUnbalanced, st.Opening.Amount, entries, want, st.Closing.Amount,
			want.Sub(st.Closing.Amount), st.Currency)
	}
	return nil
}
