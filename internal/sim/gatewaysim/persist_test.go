package gatewaysim

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
)

// crashCopy is what a kill -9 leaves of a running simulator's data dir:
// the files as the kernel has them (copied while it runs).
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// lastLog is the newest log file in dir.
func lastLog(t *testing.T, dir string) string {
	t.Helper()
	gens, err := walFiles(dir)
	if err != nil || len(gens) == 0 {
		t.Fatalf("no log file in %s: %v", dir, err)
	}
	return filepath.Join(dir, walName(gens[len(gens)-1]))
}

// reopen starts a simulator on dir with the test clock.
func reopen(dir string, now func() time.Time) (*Sim, error) {
	cfg := DemoConfig("")
	cfg.DataDir, cfg.Now = dir, now
	return New(cfg)
}

// history is what a run answered: payments made, one refunded, and a
// transfer as the last change.
type history struct {
	paid     []paid
	refundID string
	transfer Transfer
	dir      string // the data dir as a kill -9 right after the last answer leaves it
}

func makeHistory(t *testing.T) history {
	t.Helper()
	dir := t.TempDir()
	e := newEnv(t, func(c *Config) { c.DataDir = dir })
	ctx := context.Background()
	h := history{paid: e.payMany(MoMo, 100_000, 200_000, 300_000)}
	e.waitCallbacks()
	p := h.paid[1]
	rf := must(e.gw[MoMo].Refund(ctx, refundReq(p.attempt, p.txnID, "RFTORN1", 50_000, e.clock.Now())))(t)
	if rf.Status != gateways.StatusSucceeded {
		t.Fatalf("refund = %+v", rf)
	}
	h.refundID = rf.GatewayRefundID
	h.transfer = must(e.admin.Transfer(ctx, TransferRequest{Reference: "RF18539007547034", Amount: 5_000}))(t)
	h.dir = crashCopy(t, dir)
	return h
}

// TestTornTail: a crash can cut the last line of the log. Replay ignores
// the cut line (and garbage after the last good one), keeps everything
// before it, and the next run appends after it and replays again.
func TestTornTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		tear         func(log []byte, last int) []byte // last: where the last line starts
		lostTransfer bool                              // the torn line was the transfer's
	}{
		{"intact", func(b []byte, _ int) []byte { return b }, false},
		{"last line cut after one byte", func(b []byte, last int) []byte { return b[:last+1] }, true},
		{"last line cut in half", func(b []byte, last int) []byte { return b[:last+(len(b)-last)/2] }, true},
		{"last line without its newline", func(b []byte, _ int) []byte { return b[:len(b)-1] }, true},
		{"zeros after the last line", func(b []byte, _ int) []byte { return append(b, make([]byte, 4096)...) }, false},
		{"a half line and zeros after the last line", func(b []byte, last int) []byte {
			return append(append(b, b[last:last+20]...), append([]byte("\n"), make([]byte, 512)...)...)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := makeHistory(t)
			path := lastLog(t, h.dir)
			data := must(os.ReadFile(path))(t)
			last := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
			if r, err := parseRecord(data[last : len(data)-1]); err != nil || r.Op != opTransfer {
				t.Fatalf("the log's last line is %q (%v), want the transfer", data[last:], err)
			}
			check(t, os.WriteFile(path, tt.tear(data, last), 0o644))

			clock := newClock()
			sim := must(reopen(h.dir, clock.Now))(t)
			for _, p := range h.paid {
				got := must(sim.Transaction(MoMo, p.res.GatewayRef))(t)
				if got.Status != StatusSucceeded || got.GatewayTxnID != p.txnID {
					t.Errorf("payment %s after the crash: %+v", p.res.GatewayRef, got)
				}
			}
			if got := must(sim.Transaction(MoMo, h.paid[1].res.GatewayRef))(t); len(got.Refunds) != 1 ||
				got.Refunds[0].GatewayRefundID != h.refundID || got.Refunded() != 50_000 {
				t.Errorf("refunds after the crash: %+v", got.Refunds)
			}
			transfers := sim.Transfers()
			if kept := len(transfers) == 1 && transfers[0] == h.transfer; kept == tt.lostTransfer {
				t.Errorf("transfers after the crash: %+v; want the transfer kept: %v", transfers, !tt.lostTransfer)
			}
			// The next run writes after what replay kept, and is replayed in turn.
			again := must(sim.Transfer(TransferRequest{Reference: "RF18539007547034", Amount: 7_000}))(t)
			check(t, sim.Close())
			sim = must(reopen(h.dir, clock.Now))(t)
			defer sim.Close()
			transfers = sim.Transfers()
			if len(transfers) == 0 || transfers[len(transfers)-1] != again {
				t.Errorf("transfers after a second restart: %+v, want the last %+v", transfers, again)
			}
			if got := must(sim.Transaction(MoMo, h.paid[1].res.GatewayRef))(t); got.Refunded() != 50_000 {
				t.Errorf("refunds after a second restart: %+v", got.Refunds)
			}
		})
	}
}

// TestCorruptLog: damage that a crash cannot cause — a bad line with good
// ones after it, a record missing — stops New instead of losing data.
func TestCorruptLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		damage  func(lines [][]byte) [][]byte
		wantErr string
	}{
		{"a bad line in the middle", func(l [][]byte) [][]byte { l[1] = []byte(`{"seq":2,"op":"txn"`); return l }, "line 2"},
		{"a record missing", func(l [][]byte) [][]byte { return append(l[:1], l[2:]...) }, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := makeHistory(t)
			path := lastLog(t, h.dir)
			lines := bytes.SplitAfter(must(os.ReadFile(path))(t), []byte("\n"))
			if len(lines) < 4 {
				t.Fatalf("log of %d lines", len(lines))
			}
			check(t, os.WriteFile(path, bytes.Join(tt.damage(lines), nil), 0o644))
			sim, err := reopen(h.dir, newClock().Now)
			if err == nil {
				sim.Close()
				t.Fatal("New started on a damaged log")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

// TestCompaction: Save writes the snapshot and removes the log files
// before it; a crash after the snapshot's rename but before the removal
// leaves records in both, replayed once.
func TestCompaction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, func(c *Config) { c.DataDir = dir })
	ctx := context.Background()
	ps := e.payMany(ZaloPay, 100_000, 200_000)
	e.waitCallbacks()
	p := ps[0]
	must(e.gw[ZaloPay].Refund(ctx, refundReq(p.attempt, p.txnID, "RFCOMPACT1", 40_000, e.clock.Now())))(t)
	tr := must(e.admin.Transfer(ctx, TransferRequest{Reference: "RF18539007547034", Amount: 5_000}))(t)
	before := crashCopy(t, dir)

	check(t, e.sim.Save())
	gens := must(walFiles(dir))(t)
	if len(gens) != 1 {
		t.Fatalf("log files after a compaction: %v, want the new one only", gens)
	}
	if fi := must(os.Stat(filepath.Join(dir, walName(gens[0]))))(t); fi.Size() != 0 {
		t.Errorf("the new log file holds %d bytes", fi.Size())
	}
	// The crash: the new snapshot is in place, the old log is still there.
	check(t, os.WriteFile(filepath.Join(before, StateFile), must(os.ReadFile(filepath.Join(dir, StateFile)))(t), 0o644))
	sim := must(reopen(before, e.clock.Now))(t)
	defer sim.Close()
	got := must(sim.Transaction(ZaloPay, p.res.GatewayRef))(t)
	if got.Status != StatusSucceeded || got.GatewayTxnID != p.txnID || len(got.Refunds) != 1 || got.Refunded() != 40_000 {
		t.Errorf("after the crash: %+v", got)
	}
	if n := len(sim.Transactions(TransactionFilter{})); n != 2 {
		t.Errorf("%d transactions after the crash, want 2", n)
	}
	if got := sim.Transfers(); len(got) != 1 || got[0] != tr {
		t.Errorf("transfers after the crash: %+v, want %+v once", got, tr)
	}
}

// TestAnswerWaitsForTheLog: a change that cannot be written is not
// answered as done.
func TestAnswerWaitsForTheLog(t *testing.T) {
	t.Parallel()
	cfg := DemoConfig("")
	cfg.DataDir = t.TempDir()
	sim := must(New(cfg))(t)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	admin := &Client{BaseURL: srv.URL}
	ctx := context.Background()
	must(admin.Transfer(ctx, TransferRequest{Reference: "RF18539007547034", Amount: 5_000}))(t)

	check(t, sim.st.wal.f.Close()) // the disk goes away
	_, err := admin.Transfer(ctx, TransferRequest{Reference: "RF18539007547034", Amount: 6_000})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusInternalServerError {
		t.Errorf("a transfer that could not be written was answered %v, want a 500", err)
	}
	if err := sim.Close(); err == nil {
		t.Error("Close reported no error for a log that could not be written")
	}
}

// TestCompactsOnItsOwn: a log that grew past the threshold is compacted
// in the background, without Save being called.
func TestCompactsOnItsOwn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, func(c *Config) { c.DataDir, c.VNPAY.IPNURL = dir, "" }) // no callbacks: nothing else wakes the compactor
	w := e.sim.st.wal
	w.mu.Lock()
	w.compactAt = 4 << 10
	gen := w.gen
	w.mu.Unlock()
	ps := e.payMany(VNPAY, 100_000, 200_000, 300_000, 400_000, 500_000, 600_000)
	deadline := time.Now().Add(10 * time.Second)
	for gens, _ := walFiles(dir); (len(gens) != 1 || gens[0] == gen) && time.Now().Before(deadline); gens, _ = walFiles(dir) {
		time.Sleep(5 * time.Millisecond)
	}
	if gens := must(walFiles(dir))(t); len(gens) != 1 || gens[0] == gen {
		t.Fatalf("log files %v: not compacted (first generation %d)", gens, gen)
	}
	e.waitCallbacks()
	sim := must(reopen(crashCopy(t, dir), e.clock.Now))(t)
	defer sim.Close()
	for _, p := range ps {
		if got := must(sim.Transaction(VNPAY, p.res.GatewayRef))(t); got.GatewayTxnID != p.txnID {
			t.Errorf("after compaction and a crash: %+v", got)
		}
	}
}

// TestOneSimulatorPerDataDir: a second simulator on a data dir in use is
// refused (two logs would interleave); once the first closes it starts.
func TestOneSimulatorPerDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := must(reopen(dir, time.Now))(t)
	if second, err := reopen(dir, time.Now); err == nil {
		second.Close()
		t.Fatal("a second simulator started on a data dir in use")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %q does not say the dir is in use", err)
	}
	check(t, first.Close())
	second := must(reopen(dir, time.Now))(t)
	check(t, second.Close())
}
