package statement

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseCAMTSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file    string
		stmts   []string
		entries []string
	}{
		{
			file: "camt053_v02.xml",
			stmts: []string{
				"camt.053 001.02 #1 msg=VCB053-20261123-0001 id=STMT-0011004123456-20261123 seq=327 created=2026-11-23T23:05:10+07:00 from=2026-11-23 to=2026-11-23T23:59:59+07:00 acct=0011004123456 VND open=[OPBD 150000000 VND 2026-11-23] close=[CLBD 200069000 VND 2026-11-23] n=6 cr=50330000 dr=261000",
			},
			entries: []string{
				`1 CRDT 49780000 VND BOOK rvsl=false ref= book=2026-11-23 val=2026-11-23 svcr=FT26327000123 e2e=NOTPROVIDED tx=FT26327000123 ustrd=["CK TU VNPAY STL VNPAY 20261123 R1 /REF 88213"] add="CONG TY CP GIAI PHAP THANH TOAN VIET NAM CHUYEN TIEN QUYET TOAN" txs=1`,
				`2 CRDT 250000 VND BOOK rvsl=false ref= book=2026-11-23 val=2026-11-23 svcr=FT26327000456 e2e=NOTPROVIDED tx=FT26327000456 ustrd=["RF18 5390 0754 7034 NOP PHI CAP" "GIAY PHEP XAY DUNG"] add="MBVCB.8812345.NGUYEN VAN A chuyen tien" txs=1`,
				`3 DBIT 11000 VND BOOK rvsl=false ref= book=2026-11-23 val=2026-11-23 svcr= e2e= tx= ustrd=[] add="PHI DICH VU SMS BANKING T11/2026" txs=0`,
				`4 CRDT 1000000 VND PDNG rvsl=false ref= book=- val=2026-11-24 svcr= e2e= tx= ustrd=["RF68 1234 5678 9012 345"] add="" txs=1`,
				`5 CRDT 300000 VND BOOK rvsl=false ref= book=2026-11-23 val=2026-11-23 svcr=FT26327000788 e2e= tx= ustrd=["RF40202611230000001" "RF70771122334455667"] add="" txs=2`,
				`6 DBIT 250000 VND BOOK rvsl=true ref= book=2026-11-23 val=2026-11-23 svcr=FT26327000999 e2e= tx= ustrd=[] add="HOAN TRA GIAO DICH FT26327000456" txs=0`,
			},
		},
		{
			file: "camt053_v04.xml", // ns2: prefixes, DBIT opening, PRCD opening, two statements, DtTm
			stmts: []string{
				"camt.053 001.04 #1 msg=BIDV-STMT-20261123-77 id=12010000123456-20261123 seq=1 created=2026-11-23T23:59:00+07:00 from=- to=- acct=12010000123456 VND open=[OPBD -5000000 VND 2026-11-23] close=[CLBD 5000000 VND 2026-11-23T23:59:00+07:00] n=2 cr=12000000 dr=2000000",
				"camt.053 001.04 #2 msg=BIDV-STMT-20261123-77 id=EUR-20261123 seq= created=2026-11-23T23:59:00+07:00 from=- to=- acct=DE89370400440532013000 EUR open=[PRCD 100.5 EUR 2026-11-22] close=[CLBD -99.75 EUR 2026-11-23] n=1 cr=0 dr=200.25",
			},
			entries: []string{
				`1 CRDT 12000000 VND BOOK rvsl=false ref=1 book=2026-11-23T10:15:00+07:00 val=2026-11-23 svcr=BIDV26112300012 e2e=MOMOSTL20261123R2 tx=BIDV-TX-12 ustrd=["MOMO TT STL-MOMO-20261123-R2"] add="" txs=1`,
				`2 DBIT 2000000 VND BOOK rvsl=false ref=2 book=2026-11-23T22:30:00+07:00 val=2026-11-23 svcr= e2e= tx= ustrd=[] add="CHUYEN TIEN NOP NGAN SACH" txs=0`,
				`1 DBIT 200.25 EUR BOOK rvsl=false ref= book=2026-11-23 val=2026-11-23 svcr= e2e= tx= ustrd=[] add="SEPA TRANSFER TO SUPPLIER" txs=0`,
			},
		},
		{
			file: "camt053_v08.xml", // <Sts><Cd>, fractional-second DtTm, Strd creditor reference, PDNG
			stmts: []string{
				"camt.053 001.08 #1 msg=VCB2026112300000042 id=VCB-0071001234567-20261123 seq=42 created=2026-11-24T00:30:00+07:00 from=- to=- acct=0071001234567 VND open=[OPBD 0 VND 2026-11-23] close=[CLBD 99144500 VND 2026-11-23] n=4 cr=99150000 dr=5500",
			},
			entries: []string{
				`1 CRDT 99000000 VND BOOK rvsl=false ref=0001 book=2026-11-23 val=2026-11-23 svcr=5171IBT1WE26327 e2e=ZLP2026112300001 tx= ustrd=["ZALOPAY QUYET TOAN stl_zalopay_20261123_r1"] add="" txs=1`,
				`2 CRDT 150000 VND BOOK rvsl=false ref=0002 book=2026-11-23T08:01:02.345+07:00 val=2026-11-23 svcr=5171IBT1WE26328 e2e=NOTPROVIDED tx=5171IBT1WE26328 ustrd=["THANH TOAN LE PHI"] add="" txs=1`,
				`3 CRDT 75000 VND PDNG rvsl=false ref=0003 book=- val=2026-11-24 svcr= e2e= tx= ustrd=[] add="" txs=0`,
				`4 DBIT 5500 VND BOOK rvsl=false ref=0004 book=2026-11-23 val=2026-11-23 svcr=FEE26327 e2e= tx= ustrd=[] add="PHI QUAN LY TAI KHOAN" txs=0`,
			},
		},
		{
			file: "camt054_v02.xml",
			stmts: []string{
				"camt.054 001.02 #1 msg=TCB054-0000081234 id=NTF-0000081234 seq= created=2026-11-23T09:12:45+07:00 from=- to=- acct=19031234567012 VND open=[-] close=[-] n=1 cr=500000 dr=0",
			},
			entries: []string{
				`1 CRDT 500000 VND BOOK rvsl=false ref= book=2026-11-23 val=2026-11-23 svcr=FT26327112233 e2e=NOTPROVIDED tx=FT26327112233 ustrd=["RF60998877665544332 NOP PHAT VI PHAM GIAO THONG"] add="" txs=1`,
			},
		},
		{
			file: "camt054_v04.xml", // no Acct/Ccy (the first entry's currency is the notification's), DtTm value date, reversal
			stmts: []string{
				"camt.054 001.04 #1 msg=ACB054-20261123-5531 id=ACB-NTF-5531 seq= created=2026-11-23T14:02:00+07:00 from=- to=- acct=88886666 VND open=[-] close=[-] n=2 cr=1200000 dr=1200000",
			},
			entries: []string{
				`1 CRDT 1200000 VND BOOK rvsl=false ref= book=2026-11-23T14:01:33+07:00 val=2026-11-23T14:01:33+07:00 svcr=ACB5531A e2e=VQR2611235531 tx=ACB5531A ustrd=["nop le phi ho tich rf68 1234 5678" "9012 345 ma hs 0012"] add="" txs=1`,
				`2 DBIT 1200000 VND BOOK rvsl=true ref= book=2026-11-23T14:01:59+07:00 val=- svcr=ACB5531R e2e= tx= ustrd=[] add="REVERSAL OF ACB5531A" txs=0`,
			},
		},
		{
			file: "camt054_v08.xml", // two notifications, INFO entry
			stmts: []string{
				"camt.054 001.08 #1 msg=VTB054-99120001 id=VTB-NTF-99120001-1 seq= created=2026-11-23T16:45:00.123+07:00 from=- to=- acct=113000123456 VND open=[-] close=[-] n=1 cr=48900 dr=0",
				"camt.054 001.08 #2 msg=VTB054-99120001 id=VTB-NTF-99120001-2 seq= created=2026-11-23T16:45:00.123+07:00 from=- to=- acct=113000123456 VND open=[-] close=[-] n=1 cr=0 dr=0",
			},
			entries: []string{
				`1 CRDT 48900 VND BOOK rvsl=false ref= book=2026-11-23T16:44:10+07:00 val=2026-11-23 svcr=VTB99120001A e2e=NOTPROVIDED tx= ustrd=["CTY MOMO TT QUYET TOAN STL-MOMO-2026" "1123-R1 NGAY 23/11"] add="" txs=1`,
				`1 DBIT 20000 VND INFO rvsl=false ref= book=- val=2026-11-24 svcr= e2e= tx= ustrd=[] add="LENH CHI SE THUC HIEN NGAY 24/11" txs=0`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			var entries []string
			var seen []int // statement Seq handed with each entry
			stmts, err := ParseCAMT(strings.NewReader(string(readTestdata(t, tt.file))), func(s Statement, e Entry) error {
				entries = append(entries, entryLine(e))
				seen = append(seen, s.Seq)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range stmts {
				got = append(got, stmtLine(s))
			}
			assertLines(t, "statements", got, tt.stmts)
			assertLines(t, "entries", entries, tt.entries)
			total := 0
			for _, s := range stmts {
				total += s.Entries
			}
			if total != len(seen) || seen[len(seen)-1] != len(stmts) {
				t.Errorf("callback saw statements %v for %d statements with %d entries", seen, len(stmts), total)
			}
		})
	}
}

func assertLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d, want %d:\n%s", what, len(got), len(want), strings.Join(got, "\n"))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s %d:\n got %s\nwant %s", what, i+1, got[i], want[i])
		}
	}
}

func TestParseCAMTTxDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file  string
		entry int // index among all entries of the file
		want  []string
	}{
		{"camt053_v02.xml", 4, []string{ // .02 amounts from AmtDtls/TxAmt and AmtDtls/InstdAmt
			`{"end_to_end_id":"E2E-0001","tx_id":"FT26327000789","amount":"100000","currency":"VND","amount_details":{"transaction":"100000","transaction_currency":"VND"},"remittance_info":["RF40202611230000001"]}`,
			`{"end_to_end_id":"E2E-0002","tx_id":"FT26327000790","amount":"200000","currency":"VND","amount_details":{"instructed":"200000","instructed_currency":"VND"},"remittance_info":["RF70771122334455667"],"additional_info":"LO 2 CHUYEN KHOAN"}`,
		}},
		{"camt053_v04.xml", 0, []string{
			`{"end_to_end_id":"MOMOSTL20261123R2","tx_id":"BIDV-TX-12","acct_svcr_ref":"BIDV26112300012","instr_id":"INSTR-1","msg_id":"MOMO-STL-MSG-1","pmt_inf_id":"MOMO-PMT-1","amount":"12000000","currency":"VND","credit_debit":"CRDT","remittance_info":["MOMO TT STL-MOMO-20261123-R2"]}`,
		}},
		{"camt053_v08.xml", 1, []string{
			`{"end_to_end_id":"NOTPROVIDED","tx_id":"5171IBT1WE26328","amount":"150000","currency":"VND","credit_debit":"CRDT","remittance_info":["THANH TOAN LE PHI"],"creditor_refs":[{"ref":"RF47100200300400500","type":"SCOR","issuer":"ISO"}]}`,
		}},
		{"camt054_v08.xml", 0, []string{
			`{"end_to_end_id":"NOTPROVIDED","amount":"48900","currency":"VND","credit_debit":"CRDT","remittance_info":["CTY MOMO TT QUYET TOAN STL-MOMO-2026","1123-R1 NGAY 23/11"]}`,
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.file, tt.entry), func(t *testing.T) {
			t.Parallel()
			_, entries, err := parseCAMTString(string(readTestdata(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tx := range entries[tt.entry].TxDetails {
				b, err := json.Marshal(tx)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(b))
			}
			assertLines(t, "tx details", got, tt.want)
		})
	}
}

// TestCAMTReferences ties the samples to the reference finders: what the
// matcher will do with each credit.
func TestCAMTReferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		entry  int
		fileID string // want FindSettlementFileID, "" for none
		ref    string // want FindPaymentReference with an RF validator, "" for none
	}{
		{"camt053_v02.xml", 0, "STL-VNPAY-20261123-R1", ""},
		{"camt053_v02.xml", 1, "", "RF18539007547034"},
		{"camt053_v02.xml", 2, "", ""},
		{"camt053_v02.xml", 4, "", ""}, // a batch of two references: ambiguous, per TxDetail instead
		{"camt053_v04.xml", 0, "STL-MOMO-20261123-R2", ""},
		{"camt053_v08.xml", 0, "STL-ZALOPAY-20261123-R1", ""},
		{"camt053_v08.xml", 1, "", "RF47100200300400500"},
		{"camt054_v02.xml", 0, "", "RF60998877665544332"},
		{"camt054_v04.xml", 0, "", "RF68123456789012345"},  // lower case, split across two Ustrd lines
		{"camt054_v08.xml", 0, "STL-MOMO-20261123-R1", ""}, // id split across two Ustrd lines
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.file, tt.entry), func(t *testing.T) {
			t.Parallel()
			_, entries, err := parseCAMTString(string(readTestdata(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			texts := entries[tt.entry].Texts()
			id, ok := FindSettlementFileID(texts)
			if got := map[bool]string{true: id.String(), false: ""}[ok]; got != tt.fileID {
				t.Errorf("FindSettlementFileID(%q) = %q, want %q", texts, got, tt.fileID)
			}
			if ref, _ := FindPaymentReference(texts, validRF); ref != tt.ref {
				t.Errorf("FindPaymentReference(%q) = %q, want %q", texts, ref, tt.ref)
			}
		})
	}
}
