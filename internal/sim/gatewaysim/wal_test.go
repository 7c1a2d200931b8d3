package gatewaysim

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// seedRecords are one record of each kind, as the simulator writes them.
func seedRecords() [][]byte {
	at := time.Date(2026, 11, 23, 3, 4, 5, 600, time.UTC)
	t := &Transaction{Gateway: MoMo, Ref: "ATMO000001", Amount: 150_000, Description: "Lệ phí", Status: StatusSucceeded,
		Code: "0", GatewayTxnID: "1796512456712502", CreatedAt: at, ExpiresAt: at.Add(time.Hour), CompletedAt: at,
		CallbackURL: "http://127.0.0.1:1/callbacks/momo", Refunds: []Refund{{ID: "RF1", RequestID: "RQ1", Amount: 1_000,
			GatewayRefundID: "1796512456712503", At: at}}, Wire: Wire{RequestID: "RQ0", RequestType: "captureWallet"}}
	recs := []record{
		{Seq: 1, Op: opTxn, NextNumber: 1796512456712503, NextBankRef: 2, Txn: t},
		{Seq: 2, Op: opTransfer, Transfer: &Transfer{ID: "GWS000000000002", Reference: "RF18539007547034", Amount: 5_000, Text: "CK", BookedAt: at}},
		{Seq: 3, Op: opFile, File: &settlementFile{Info: SettlementInfo{Gateway: VNPAY, Day: "2026-11-23", Revision: 1,
			FileID: "STL-VNPAY-20261123-R1", CreatedAt: at}, Content: []byte("a,b\n1,2\n")}},
		{Seq: 4, Op: opPayout, Payout: &payout{Gateway: ZaloPay, Day: "2026-11-23", FileID: "STL-ZALOPAY-20261123-R1", Net: -5,
			BookingDay: "2026-11-24", BankRef: "GWS000000000003", Omitted: true}},
		{Seq: 5, Op: opCallback, Callback: &pendingCallback{Gateway: VNPAY, Ref: "ATVN000001", Bad: true}},
		{Seq: 6, Op: opCallbackDone, Done: 5},
	}
	var out [][]byte
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		out = append(out, line)
	}
	return out
}

// TestParseRecord: what the simulator writes reads back the same; lines
// that are not a change it can apply are refused.
func TestParseRecord(t *testing.T) {
	t.Parallel()
	for _, line := range seedRecords() {
		r, err := parseRecord(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		again, _ := json.Marshal(r)
		if !bytes.Equal(again, line) {
			t.Errorf("read back as\n%s\nwant\n%s", again, line)
		}
	}
	for _, bad := range []string{
		``, `null`, `{}`, `{"seq":1}`, `{"seq":1,"op":"txn"}`, `{"seq":0,"op":"callback_done","done":1}`,
		`{"seq":1,"op":"txn","txn":{"gateway":"paypal","ref":"x","status":"pending"}}`,
		`{"seq":1,"op":"txn","txn":{"gateway":"momo","ref":"x","status":"lost"}}`,
		`{"seq":1,"op":"transfer","done":3,"transfer":{"id":"x"}}`,
		`{"seq":1,"op":"callback_done","done":1,"extra":1}`,
		`{"seq":1,"op":"callback_done","done":1} {}`,
		`{"seq":1,"op":"callback_done","done":1}x`,
		`{"seq":1,"op":"payout","payout":{"gateway":"momo","day":"2026-13-01","booking_day":"2026-11-24"}}`,
	} {
		if r, err := parseRecord([]byte(bad)); err == nil {
			t.Errorf("%s read as %+v", bad, r)
		}
	}
}

// FuzzParseRecord: the log line parser never panics, and what it accepts
// writes back to a line it reads the same way.
func FuzzParseRecord(f *testing.F) {
	for _, line := range seedRecords() {
		f.Add(line)
		f.Add(line[:len(line)/2])
	}
	f.Add([]byte(`{"seq":1,"op":"txn","txn":{"gateway":"momo","ref":"x","status":"pending","created_at":"0000-01-01T00:00:00+01:00"}}`))
	f.Add([]byte("{\"seq\":1,\"op\":\"callback_done\",\"done\":1,\"done\":2}"))
	f.Add([]byte("\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseRecord(line)
		if err != nil {
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted %q but cannot write it back: %v", line, err)
		}
		r2, err := parseRecord(out)
		if err != nil {
			t.Fatalf("accepted %q, wrote %s, which does not read back: %v", line, out, err)
		}
		if out2, _ := json.Marshal(r2); !bytes.Equal(out, out2) {
			t.Fatalf("%q reads as\n%s\nthen as\n%s", line, out, out2)
		}
	})
}

// FuzzScanLog: any file content either scans to records that fill a prefix
// of it ending in a newline — the same records when only that prefix is
// scanned — or is refused; never a panic.
func FuzzScanLog(f *testing.F) {
	// Short records: the fuzzer minimizes what it finds, and long inputs
	// take it the whole run (FuzzParseRecord has the long ones).
	cb := []byte(`{"seq":1,"op":"callback","callback":{"gateway":"momo","ref":"A1"}}`)
	done := []byte(`{"seq":2,"op":"callback_done","done":1}`)
	log := []byte(string(cb) + "\n" + string(done) + "\n")
	f.Add(log)
	f.Add(log[:len(log)-7])
	f.Add(append(append([]byte{}, log...), 0, 0, 0, 0))
	f.Add([]byte(string(cb) + "\n{\"seq\":\n" + string(done) + "\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, valid, err := scanLog(data)
		if err != nil {
			return
		}
		if valid < 0 || valid > len(data) || (valid > 0 && data[valid-1] != '\n') {
			t.Fatalf("valid part %d of %d bytes", valid, len(data))
		}
		again, valid2, err := scanLog(data[:valid])
		if err != nil || valid2 != valid || !reflect.DeepEqual(again, recs) {
			t.Fatalf("the valid part scans differently: %d records, %d bytes, %v; before %d records, %d bytes",
				len(again), valid2, err, len(recs), valid)
		}
	})
}
