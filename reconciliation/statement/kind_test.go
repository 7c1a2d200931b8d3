package statement

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		head string
		want Kind // "" for ErrUnknownFormat
	}{
		{"camt.053 .02", string(readTestdata(t, "camt053_v02.xml")), KindCAMT053},
		{"camt.053 .04 prefixed", string(readTestdata(t, "camt053_v04.xml")), KindCAMT053},
		{"camt.054 .08", string(readTestdata(t, "camt054_v08.xml")), KindCAMT054},
		{"camt.052 .08", string(readTestdata(t, "camt052_intraday.xml")), KindCAMT052},
		{"camt.052 namespace only", `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02">`, KindCAMT052},
		{"camt.053 in an AppHdr envelope", string(readTestdata(t, "camt053_returns.xml")), KindCAMT053},
		{"camt.053 declared ISO-8859-1", string(readTestdata(t, "camt053_latin1.xml")), KindCAMT053},
		{"camt.053 with CR line ends", string(readTestdata(t, "camt053_cr.xml")), KindCAMT053},
		{"UTF-16 with its byte order mark", "\xff\xfe<\x00D\x00o\x00c\x00", ""},
		{"namespace only", `<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04">`, KindCAMT054},
		{"BOM and blank lines", "\xef\xbb\xbf\r\n  <Document><BkToCstmrStmt>", KindCAMT053},
		{"vnpay", docSettlementFiles[GatewayVNPAY], KindVNPAYSettlement},
		{"momo", docSettlementFiles[GatewayMoMo], KindMoMoSettlement},
		{"zalopay", docSettlementFiles[GatewayZaloPay], KindZaloPaySettlement},
		{"header only, no newline", strings.SplitN(docSettlementFiles[GatewayMoMo], "\n", 2)[0], KindMoMoSettlement},
		{"BOM before a header", "\xef\xbb\xbf" + docSettlementFiles[GatewayZaloPay], KindZaloPaySettlement},
		{"other XML", `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn>`, ""},
		{"other CSV", "date,amount\n2026-11-23,5\n", ""},
		{"header with a column missing", "settlementFileId,settlementDate\n", ""},
		{"empty", "", ""},
		{"blank", " \r\n\t", ""},
		{"camt beyond the sniffed bytes", "<Document>" + strings.Repeat("<!-- pad -->", 400) + "<BkToCstmrStmt>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Detect([]byte(tt.head))
			if got != tt.want || (tt.want == "") != errors.Is(err, ErrUnknownFormat) {
				t.Errorf("Detect = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDetectReader(t *testing.T) {
	t.Parallel()
	for _, gateway := range Gateways() {
		t.Run(gateway, func(t *testing.T) {
			t.Parallel()
			k, r, err := DetectReader(strings.NewReader(docSettlementFiles[gateway]))
			if err != nil || k.Gateway() != gateway || k.IsCAMT() {
				t.Fatalf("DetectReader = %q, %v", k, err)
			}
			// The reader still yields the whole file.
			f, err := ParseSettlement(k.Gateway(), r, nil)
			if err != nil || f.Count == 0 {
				t.Errorf("parse after detect: %+v, %v", f, err)
			}
		})
	}
	t.Run("camt", func(t *testing.T) {
		t.Parallel()
		k, r, err := DetectReader(strings.NewReader(string(readTestdata(t, "camt054_v02.xml"))))
		if err != nil || k != KindCAMT054 || !k.IsCAMT() || k.Gateway() != "" {
			t.Fatalf("DetectReader = %q, %v", k, err)
		}
		if stmts, err := ParseCAMT(r, nil); err != nil || len(stmts) != 1 {
			t.Errorf("parse after detect: %d statements, %v", len(stmts), err)
		}
	})
	t.Run("reader error", func(t *testing.T) {
		t.Parallel()
		if _, _, err := DetectReader(&failingReader{strings.NewReader("")}); !errors.Is(err, errDisk) {
			t.Errorf("err = %v, want the reader's error", err)
		}
	})
	t.Run("short input", func(t *testing.T) {
		t.Parallel()
		if _, _, err := DetectReader(io.LimitReader(strings.NewReader("<Document><BkToCstmrStmt>"), 5)); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("err = %v, want ErrUnknownFormat", err)
		}
	})
}
