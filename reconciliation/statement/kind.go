package statement

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Kind names a statement format.
type Kind string

// The formats this package reads.
const (
	KindCAMT052           Kind = "camt.052"           // ISO 20022 bank-to-customer account report (intraday)
	KindCAMT053           Kind = "camt.053"           // ISO 20022 bank-to-customer statement
	KindCAMT054           Kind = "camt.054"           // ISO 20022 debit/credit notification
	KindVNPAYSettlement   Kind = "settlement.vnpay"   // VNPAY settlement CSV (layout in this package)
	KindMoMoSettlement    Kind = "settlement.momo"    // MoMo settlement CSV
	KindZaloPaySettlement Kind = "settlement.zalopay" // ZaloPay settlement CSV
)

// IsCAMT reports whether k is an ISO 20022 format read by ParseCAMT.
func (k Kind) IsCAMT() bool { return k == KindCAMT052 || k == KindCAMT053 || k == KindCAMT054 }

// Gateway is the gateway whose settlement file k is ("vnpay", "momo",
// "zalopay"), or "" for a bank statement.
func (k Kind) Gateway() string {
	g, ok := strings.CutPrefix(string(k), "settlement.")
	if !ok {
		return ""
	}
	return g
}

// SniffBytes is how much of the input Detect needs to see at most.
const SniffBytes = 4096

var utf8BOM = []byte("\xef\xbb\xbf")

// Detect tells the format from the first bytes of a file (up to SniffBytes are
// looked at): an XML document whose message element is BkToCstmrStmt,
// BkToCstmrAcctRpt or BkToCstmrDbtCdtNtfctn (or, failing that, whose
// namespace names camt.053, camt.052 or camt.054), or a CSV file whose first
// line is one gateway's settlement header. A leading UTF-8 byte order mark and
// white space are skipped; a UTF-16 or UTF-32 one is refused by name.
func Detect(head []byte) (Kind, error) {
	if len(head) > SniffBytes {
		head = head[:SniffBytes]
	}
	for _, bom := range []struct {
		name  string
		bytes []byte
	}{
		{"UTF-32", []byte{0xFF, 0xFE, 0, 0}}, {"UTF-32", []byte{0, 0, 0xFE, 0xFF}},
		{"UTF-16", []byte{0xFF, 0xFE}}, {"UTF-16", []byte{0xFE, 0xFF}},
	} {
		if bytes.HasPrefix(head, bom.bytes) {
			return "", fmt.Errorf("%w: the file is %s (it starts with a %s byte order mark): send it as UTF-8", ErrUnknownFormat, bom.name, bom.name)
		}
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if len(head) == 0 {
		return "", fmt.Errorf("%w: empty input", ErrUnknownFormat)
	}
	if head[0] == '<' {
		return detectXML(head)
	}
	first, _, _ := bytes.Cut(head, []byte("\n"))
	first = bytes.TrimSuffix(first, []byte("\r"))
	for _, l := range layouts {
		if string(first) == l.headerLine() {
			return l.kind, nil
		}
	}
	return "", fmt.Errorf("%w: first line %q is neither XML nor a known settlement header", ErrUnknownFormat, clip(string(first)))
}

func detectXML(head []byte) (Kind, error) {
	first, at := Kind(""), -1
	for _, m := range []struct {
		element string
		kind    Kind
	}{{"BkToCstmrStmt", KindCAMT053}, {"BkToCstmrAcctRpt", KindCAMT052}, {"BkToCstmrDbtCdtNtfctn", KindCAMT054}} {
		if i := bytes.Index(head, []byte(m.element)); i >= 0 && (at < 0 || i < at) {
			first, at = m.kind, i
		}
	}
	if first != "" {
		return first, nil
	}
	for _, k := range []Kind{KindCAMT053, KindCAMT052, KindCAMT054} {
		if bytes.Contains(head, []byte(string(k)+".")) {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w: XML without a camt.052, camt.053 or camt.054 message in its first %d bytes", ErrUnknownFormat, len(head))
}

// DetectReader peeks at the start of r and returns its Kind together with a
// reader that still yields the whole input (the peeked bytes included).
func DetectReader(r io.Reader) (Kind, io.Reader, error) {
	br := bufio.NewReaderSize(r, SniffBytes)
	head, err := br.Peek(SniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", br, fmt.Errorf("statement: detect: %w", err)
	}
	k, err := Detect(head)
	return k, br, err
}
