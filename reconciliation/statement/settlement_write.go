package statement

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/civicpay/civicpay/internal/foundation/money"
)

// SettlementWriter writes a settlement file in a gateway's layout, streaming:
// the header when it is created, one record per Write, the trailer at Close.
// It refuses lines the parser would refuse, so what it writes reads back.
type SettlementWriter struct {
	l      *layout
	cw     *csv.Writer
	file   SettlementFile // identity and running totals
	closed bool
}

// NewSettlementWriter starts a settlement file of gateway on w. file gives its
// identity: either FileID, or BusinessDate and Revision (0 means 1) from which
// the id is made; Currency defaults to VND. Its totals are ignored: the writer
// sums the lines it is given.
func NewSettlementWriter(gateway string, w io.Writer, file SettlementFile) (*SettlementWriter, error) {
	l, ok := layouts[gateway]
	if !ok {
		return nil, fmt.Errorf("statement: settlement writer: %w: %q", ErrUnknownGateway, gateway)
	}
	id, err := settlementIdentity(gateway, file)
	if err != nil {
		return nil, fmt.Errorf("statement: settlement writer: %w", err)
	}
	ccy := file.Currency
	if ccy == "" {
		ccy = money.VND
	}
	if !validCurrency(ccy) {
		return nil, fmt.Errorf("statement: settlement writer: currency %q is not an ISO 4217 code", ccy)
	}
	sw := &SettlementWriter{l: l, cw: csv.NewWriter(w), file: SettlementFile{
		Gateway: gateway, FileID: id.String(), Revision: id.Revision, BusinessDate: id.BusinessDate, Currency: ccy,
	}}
	sw.cw.Comma, sw.cw.UseCRLF = l.comma, l.crlf
	if err := sw.cw.Write(l.header); err != nil {
		return nil, fmt.Errorf("statement: settlement writer: header: %w", err)
	}
	return sw, nil
}

// settlementIdentity reconciles the id fields of file.
func settlementIdentity(gateway string, file SettlementFile) (SettlementFileID, error) {
	if file.Gateway != "" && file.Gateway != gateway {
		return SettlementFileID{}, fmt.Errorf("file of %s given to a %s writer", file.Gateway, gateway)
	}
	if file.FileID == "" {
		rev := file.Revision
		if rev == 0 {
			rev = 1
		}
		id := SettlementFileID{Gateway: gateway, Revision: rev}
		if !file.BusinessDate.IsZero() {
			id.BusinessDate = businessDay(file.BusinessDate)
		}
		return id, id.validate()
	}
	id, err := ParseSettlementFileID(file.FileID)
	switch {
	case err != nil:
		return id, err
	case id.Gateway != gateway:
		return id, fmt.Errorf("file id %s is not a %s file", file.FileID, gateway)
	case file.Revision != 0 && file.Revision != id.Revision:
		return id, fmt.Errorf("revision %d but file id %s", file.Revision, file.FileID)
	case !file.BusinessDate.IsZero() && !businessDay(file.BusinessDate).Equal(id.BusinessDate):
		return id, fmt.Errorf("business date %s but file id %s", file.BusinessDate.In(ICT).Format(isoDate), file.FileID)
	}
	return id, nil
}

// Write adds one transaction line. line.Currency may be left empty (the
// file's); Line is ignored; At is written in the layout's precision
// (seconds, or milliseconds for MoMo), truncated.
func (sw *SettlementWriter) Write(line SettlementLine) error {
	if sw.closed {
		return errors.New("statement: settlement writer: write after close")
	}
	if line.Currency == "" {
		line.Currency = sw.file.Currency
	}
	rec, err := sw.record(line)
	if err != nil {
		return fmt.Errorf("statement: settlement writer: %s line %q: %w", sw.l.gateway, line.GatewayTxnID, err)
	}
	if err := sw.cw.Write(rec); err != nil {
		return fmt.Errorf("statement: settlement writer: %w", err)
	}
	sw.file.Count++
	sw.file.Gross = sw.file.Gross.Add(line.Gross)
	sw.file.Fees = sw.file.Fees.Add(line.Fee)
	sw.file.Net = sw.file.Net.Add(line.Net)
	return nil
}

func (sw *SettlementWriter) record(line SettlementLine) ([]string, error) {
	l := sw.l
	code, ok := l.typeCodes[line.Type]
	switch {
	case !ok:
		return nil, fmt.Errorf("type %q is neither %q nor %q", line.Type, TypePayment, TypeRefund)
	case line.Currency != sw.file.Currency:
		return nil, fmt.Errorf("currency %s in a %s file", line.Currency, sw.file.Currency)
	case !l.txnID.MatchString(line.GatewayTxnID):
		return nil, fmt.Errorf("gateway transaction id %q does not match %s", line.GatewayTxnID, l.txnID)
	case !l.reference.MatchString(line.Reference):
		return nil, fmt.Errorf("reference %q does not match %s", line.Reference, l.reference)
	case line.At.IsZero():
		return nil, errors.New("no transaction time")
	}
	if err := line.check(); err != nil {
		return nil, err
	}
	if err := checkMinorUnits(line.Gross, line.Currency); err != nil {
		return nil, err
	}
	if err := checkMinorUnits(line.Fee, line.Currency); err != nil {
		return nil, err
	}
	gross, fee, net := l.fileValues(line)
	for _, v := range []string{gross, fee, net} {
		digits := v
		if l.signed {
			digits = strings.TrimPrefix(v, "-")
		}
		if !allDigits(digits) {
			return nil, fmt.Errorf("the %s layout cannot write the amount %s (negative or too fine)", l.gateway, v)
		}
	}
	return []string{
		sw.file.FileID, sw.file.BusinessDate.Format(l.dateLayout), line.GatewayTxnID, line.Reference,
		code, gross, fee, net, line.Currency, l.formatTime(line.At),
	}, nil
}

// File is the file's identity and the totals of the lines written so far;
// after Close, what the trailer says.
func (sw *SettlementWriter) File() SettlementFile { return sw.file }

// Close writes the trailer with the totals of the lines written and flushes.
// It does not close the underlying writer.
func (sw *SettlementWriter) Close() error { return sw.CloseWithTrailer(sw.file) }

// CloseWithTrailer writes a trailer with t's Count, Gross, Fees and Net
// instead of the real totals — for a simulator injecting a faulty file — and
// flushes.
func (sw *SettlementWriter) CloseWithTrailer(t SettlementFile) error {
	if sw.closed {
		return errors.New("statement: settlement writer: closed twice")
	}
	sw.closed = true
	l := sw.l
	err := sw.cw.Write([]string{
		l.trailerTag, sw.file.FileID, fmt.Sprint(t.Count),
		l.formatAmount(t.Gross), l.formatAmount(t.Fees), l.formatAmount(t.Net), sw.file.Currency,
	})
	if err == nil {
		sw.cw.Flush()
		err = sw.cw.Error()
	}
	if err != nil {
		return fmt.Errorf("statement: settlement writer: trailer: %w", err)
	}
	sw.file.Count, sw.file.Gross, sw.file.Fees, sw.file.Net = t.Count, t.Gross, t.Fees, t.Net
	return nil
}
