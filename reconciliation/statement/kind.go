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
	KindCAMT053           Kind = "camt.053"           // ISO 20022 bank-to-customer statement
	KindCAMT054           Kind = "camt.054"           // ISO 20022 debit/credit notification
	KindVNPAYSettlement   Kind = "settlement.vnpay"   // VNPAY settlement CSV (layout in this package)
	KindMoMoSettlement    Kind = "settlement.momo"    // MoMo settlement CSV
	KindZaloPaySettlement Kind = "settlement.zalopay" // ZaloPay settlement CSV
)

// IsCAMT reports whether k is an ISO 20022 format read by ParseCAMT.
func (k Kind) IsCAMT() bool { return k == KindCAMT053 || k == KindCAMT054 }

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
// looked at): an XML document whose message element is BkToCstmrStmt or
// BkToCstmrDbtCdtNtfctn (or, failing that, whose namespace names camt.053 or
// camt.054), or a CSV file whose first line is one gateway's settlement header.
// A leading UTF-8 byte order mark and white space are skipped.
func Detect(head []byte) (Kind, error) {
	if len(head) > SniffBytes {
		head = head[:SniffBytes]
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
	stmt := bytes.Index(head, []byte("BkToCstmrStmt"))
	ntf := bytes.Index(head, []byte("BkToCstmrDbtCdtNtfctn"))
	switch {
	case stmt >= 0 && (ntf < 0 || stmt < ntf):
		return KindCAMT053, nil
	case ntf >= 0:
		return KindCAMT054, nil
	case bytes.Contains(head, []byte("camt.053.")):
		return KindCAMT053, nil
	case bytes.Contains(head, []byte("camt.054.")):
		return KindCAMT054, nil
	}
	return "", fmt.Errorf("%w: XML without a camt.053 or camt.054 message in its first %d bytes", ErrUnknownFormat, len(head))
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
