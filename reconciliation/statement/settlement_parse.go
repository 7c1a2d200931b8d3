package statement

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// ParseSettlement reads a gateway settlement file with DefaultLimits; see
// Limits.ParseSettlement.
func ParseSettlement(gateway string, r io.Reader, fn func(SettlementLine) error) (SettlementFile, error) {
	return DefaultLimits.ParseSettlement(gateway, r, fn)
}

// ParseSettlement reads the settlement file of gateway ("vnpay", "momo",
// "zalopay") in the layout documented in the package comment, one record at a
// time. It calls fn, when not nil, for each transaction line as soon as it is
// read; an error from fn stops the parse and is returned wrapped. At the end
// it checks the trailer against the lines and fails with ErrTrailer, naming
// every difference, when they disagree or when the trailer is missing (a
// truncated file): fn has then already seen the lines, so the caller must
// treat the file as one unit. Duplicate transaction ids are not looked for
// here (that needs memory proportional to the file); the matcher reports them.
func (lim Limits) ParseSettlement(gateway string, r io.Reader, fn func(SettlementLine) error) (SettlementFile, error) {
	return SettlementOptions{Limits: lim}.ParseSettlement(gateway, r, fn)
}

// SettlementOptions choose how ParseSettlement judges a file whose trailer
// does not agree with its lines.
type SettlementOptions struct {
	Limits Limits
	// Tolerant loads a file whose trailer disagrees with its lines, or that
	// has no trailer but at least one line, instead of refusing it: the
	// file's totals are then its lines', Trailer is what the trailer said
	// (nil when there is none), and a Finding (trailer_mismatch,
	// trailer_missing) names each difference. The default, strict rule
	// refuses such a file with ErrTrailer.
	Tolerant bool
}

// Finding codes of a settlement file (tolerant rule only).
const (
	FindingTrailerMismatch = "trailer_mismatch"
	FindingTrailerMissing  = "trailer_missing"
)

// ParseSettlement reads a settlement file under the options; see
// Limits.ParseSettlement.
func (o SettlementOptions) ParseSettlement(gateway string, r io.Reader, fn func(SettlementLine) error) (SettlementFile, error) {
	return o.parse(gateway, r, fn, nil)
}

// parse reads a settlement file handing each line to fn or to rowFn (at
// most one of them is set).
func (o SettlementOptions) parse(gateway string, r io.Reader, fn func(SettlementLine) error,
	rowFn func(*SettlementRow) error) (SettlementFile, error) {
	lim := o.Limits.withDefaults()
	l, ok := layouts[gateway]
	if !ok {
		return SettlementFile{}, fmt.Errorf("statement: settlement: %w: %q", ErrUnknownGateway, gateway)
	}
	br := bufio.NewReader(r)
	if head, _ := br.Peek(len(utf8BOM)); bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	limited := &recordLimiter{r: br, max: lim.MaxLineBytes}
	cr := csv.NewReader(limited)
	cr.Comma, cr.FieldsPerRecord, cr.ReuseRecord = l.comma, -1, true
	p := &settlementParser{l: l, fn: fn, rowFn: rowFn, tolerant: o.Tolerant, file: SettlementFile{Gateway: gateway}}
	line := 0
	for {
		limited.n = 0
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line = recordLine(cr, rec, err, line+1)
		if err != nil {
			return SettlementFile{}, p.fail(line, csvErr(err))
		}
		if err := p.record(line, rec); err != nil {
			return SettlementFile{}, p.fail(line, err)
		}
	}
	p.spill()
	if p.state != afterTrailer {
		missing := fmt.Sprintf("no %s line (truncated file?)", l.trailerTag)
		if !p.tolerant || p.file.FileID == "" { // without a line, nothing says which file this is
			return SettlementFile{}, p.fail(line, fmt.Errorf("%w: %s", ErrTrailer, missing))
		}
		p.file.Count, p.file.Gross, p.file.Fees, p.file.Net = p.sum.Count, p.sum.Gross, p.sum.Fees, p.sum.Net
		p.file.Findings = []Finding{{Code: FindingTrailerMissing, Detail: missing + ": the totals are the lines'"}}
	}
	return p.file, nil
}

// recordLine is the line where the record just read starts: from the CSV
// error, from the record, or (for an error before any field) the guess.
func recordLine(cr *csv.Reader, rec []string, err error, guess int) int {
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		return pe.StartLine
	case len(rec) > 0: // FieldPos panics on an index the record does not have
		line, _ := cr.FieldPos(0)
		return line
	}
	return guess
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return formatErr("csv: %v", pe.Err)
	}
	return err
}

// recordLimiter fails once more than max bytes have been read since the last
// reset, which the parser does before every record: no record (quoted
// newlines included) can grow without bound. The CSV reader's read-ahead adds
// at most its buffer size to what is counted.
type recordLimiter struct {
	r   io.Reader
	n   int64
	max int64
}

func (rl *recordLimiter) Read(p []byte) (int, error) {
	if rl.n > rl.max {
		return 0, fmt.Errorf("%w: a record is longer than %d bytes", ErrLimit, rl.max)
	}
	n, err := rl.r.Read(p)
	rl.n += int64(n)
	return n, err
}

type settlementState int

const (
	expectHeader settlementState = iota
	inLines
	afterTrailer
)

type settlementParser struct {
	l        *layout
	fn       func(SettlementLine) error
	rowFn    func(*SettlementRow) error
	tolerant bool
	state    settlementState
	file     SettlementFile // identity from the first line or the trailer
	sum      SettlementFile // totals of the lines read (with units, once spilled)

	// The lines read without decimals (fastRow): their running totals in
	// file units, the file's business date as the lines write it, what
	// each amount must be a multiple of, and the row being handed over.
	units     rowSums
	unitsUsed bool
	dateText  string
	unitDiv   int64
	row       SettlementRow
}

func (p *settlementParser) fail(line int, err error) error {
	return &ParseError{Format: p.l.gateway + " settlement", Line: line, Err: err}
}

func (p *settlementParser) record(line int, rec []string) error {
	switch p.state {
	case expectHeader:
		if !slices.Equal(rec, p.l.header) {
			return formatErr("header is not %q", p.l.headerLine())
		}
		p.state = inLines
		return nil
	case afterTrailer:
		return formatErr("data after the %s line", p.l.trailerTag)
	}
	if len(rec) > 0 && rec[0] == p.l.trailerTag {
		p.state = afterTrailer
		return p.trailer(rec)
	}
	if len(rec) != settlementColumns {
		return formatErr("%d columns, want %d", len(rec), settlementColumns)
	}
	if p.fastRow(line, rec) {
		r := &p.row
		p.sum.Count++
		p.addUnits(r.GrossUnits, r.FeeUnits, r.NetUnits)
		switch {
		case p.rowFn != nil:
			return p.rowFn(r)
		case p.fn != nil:
			return p.fn(r.SettlementLine())
		}
		return nil
	}
	sl, err := p.line(line, rec)
	if err != nil {
		return err
	}
	p.sum.Count++
	p.sum.Gross = p.sum.Gross.Add(sl.Gross)
	p.sum.Fees = p.sum.Fees.Add(sl.Fee)
	p.sum.Net = p.sum.Net.Add(sl.Net)
	switch {
	case p.rowFn != nil:
		p.row = p.l.rowOf(sl)
		return p.rowFn(&p.row)
	case p.fn != nil:
		return p.fn(sl)
	}
	return nil
}

// identify checks a line's (or the trailer's) file id and currency against
// the file's, taking them from the first one.
func (p *settlementParser) identify(fileID, ccy string) error {
	if p.file.FileID != "" {
		if fileID != p.file.FileID {
			return formatErr("file id %q differs from %q", clip(fileID), p.file.FileID)
		}
		if ccy != p.file.Currency {
			return formatErr("currency %q differs from the file's %s", clip(ccy), p.file.Currency)
		}
		return nil
	}
	id, err := ParseSettlementFileID(fileID)
	if err != nil {
		return err
	}
	if id.Gateway != p.l.gateway {
		return formatErr("file id %s is not a %s file", fileID, p.l.gateway)
	}
	if !validCurrency(ccy) {
		return formatErr("currency %q is not an ISO 4217 code", clip(ccy))
	}
	p.file.FileID, p.file.Revision, p.file.BusinessDate, p.file.Currency = fileID, id.Revision, id.BusinessDate, ccy
	return nil
}

func (p *settlementParser) line(n int, rec []string) (SettlementLine, error) {
	l := p.l
	if err := p.identify(rec[colFileID], rec[colCurrency]); err != nil {
		return SettlementLine{}, err
	}
	if want := p.file.BusinessDate.Format(l.dateLayout); rec[colDate] != want {
		return SettlementLine{}, formatErr("business date %q, the file id says %s", clip(rec[colDate]), want)
	}
	sl := SettlementLine{Line: n, GatewayTxnID: rec[colTxnID], Reference: rec[colReference], Currency: p.file.Currency}
	if !l.txnID.MatchString(sl.GatewayTxnID) {
		return sl, formatErr("gateway transaction id %q malformed", clip(sl.GatewayTxnID))
	}
	if !l.reference.MatchString(sl.Reference) {
		return sl, formatErr("reference %q malformed", clip(sl.Reference))
	}
	var ok bool
	if sl.Type, ok = l.types[rec[colType]]; !ok {
		return sl, formatErr("transaction type %q unknown", clip(rec[colType]))
	}
	var fileNet decimal.Decimal
	err := l.parseAmounts(sl.Currency, l.signed,
		amountField{"gross", rec[colGross], &sl.Gross},
		amountField{"fee", rec[colFee], &sl.Fee},
		amountField{"net", rec[colNet], &fileNet})
	if err != nil {
		return sl, err
	}
	if sl.At, err = l.parseTime(rec[colTime]); err != nil {
		return sl, err
	}
	return sl, l.normalise(&sl, fileNet)
}

func (p *settlementParser) trailer(rec []string) error {
	l := p.l
	if len(rec) != trailerColumns {
		return formatErr("%s line has %d columns, want %d", l.trailerTag, len(rec), trailerColumns)
	}
	if err := p.identify(rec[1], rec[6]); err != nil {
		return err
	}
	count, err := strconv.Atoi(rec[2])
	if err != nil || !allDigits(rec[2]) {
		return formatErr("%s count %q is not a number", l.trailerTag, clip(rec[2]))
	}
	t := p.file
	t.Count = count
	err = l.parseAmounts(t.Currency, true,
		amountField{l.trailerTag + " gross", rec[3], &t.Gross},
		amountField{l.trailerTag + " fee", rec[4], &t.Fees},
		amountField{l.trailerTag + " net", rec[5], &t.Net})
	if err != nil {
		return err
	}
	p.spill()
	diff := trailerDiff(t, p.sum)
	switch {
	case diff == "":
		p.file = t
	case !p.tolerant:
		return fmt.Errorf("%w: %s", ErrTrailer, diff)
	default:
		p.file.Count, p.file.Gross, p.file.Fees, p.file.Net = p.sum.Count, p.sum.Gross, p.sum.Fees, p.sum.Net
		p.file.Trailer = &SettlementTotals{Count: t.Count, Gross: t.Gross, Fees: t.Fees, Net: t.Net}
		p.file.Findings = []Finding{{Code: FindingTrailerMismatch, Detail: "the trailer disagrees with the lines: " + diff}}
	}
	return nil
}

// trailerDiff names each total on which the trailer and the lines disagree.
func trailerDiff(trailer, lines SettlementFile) string {
	var diffs []string
	if trailer.Count != lines.Count {
		diffs = append(diffs, fmt.Sprintf("count: trailer %d, lines %d (difference %d)",
			trailer.Count, lines.Count, trailer.Count-lines.Count))
	}
	for _, a := range []struct {
		name   string
		tr, ln decimal.Decimal
	}{{"gross", trailer.Gross, lines.Gross}, {"fees", trailer.Fees, lines.Fees}, {"net", trailer.Net, lines.Net}} {
		if !a.tr.Equal(a.ln) {
			diffs = append(diffs, fmt.Sprintf("%s: trailer %s, lines %s (difference %s %s)",
				a.name, a.tr, a.ln, a.tr.Sub(a.ln), trailer.Currency))
		}
	}
	return strings.Join(diffs, "; ")
}
