package gatewaysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The write-ahead log. With a data dir every change of state a client could
// see — a payment created, paid, declined or expired, a refund, a transfer,
// a settlement file or payout, a callback due — is one JSON line appended
// to the log, and nothing that shows it is answered or sent before the line
// is on disk (fsync). Concurrent writers share one fsync (group commit).
// Compaction writes the state to StateFile and starts a new log file; New
// loads StateFile and replays the log files after it, ignoring a torn last
// line.

// Record operations.
const (
	opTxn          = "txn"           // a payment as it now is (created, completed or refunded)
	opTransfer     = "transfer"      // a credit booked on the treasury account
	opFile         = "file"          // a settlement file issued
	opPayout       = "payout"        // a settlement paid into the treasury account
	opCallback     = "callback"      // a callback to send; its id is the record's seq
	opCallbackDone = "callback_done" // that callback was delivered, refused or given up
)

// record is one line of the log. Every record carries the counters as they
// are after the change, so numbers are never handed out twice.
type record struct {
	Seq         uint64           `json:"seq"`
	Op          string           `json:"op"`
	NextNumber  int64            `json:"next_number,omitempty"`
	NextBankRef int64            `json:"next_bank_ref,omitempty"`
	Txn         *Transaction     `json:"txn,omitempty"`
	Transfer    *Transfer        `json:"transfer,omitempty"`
	File        *settlementFile  `json:"file,omitempty"`
	Payout      *payout          `json:"payout,omitempty"`
	Callback    *pendingCallback `json:"callback,omitempty"`
	Done        uint64           `json:"done,omitempty"` // opCallbackDone: the callback's id
}

// pendingCallback is a callback the gateway still owes: scheduled, and
// neither delivered, refused nor given up. A restart sends it again.
type pendingCallback struct {
	ID      uint64 `json:"id,omitempty"` // the seq of its opCallback record (in the snapshot)
	Gateway string `json:"gateway"`
	Ref     string `json:"ref"`
	Bad     bool   `json:"bad_signature,omitempty"` // sent with a bad signature (a fault), as before the restart
}

// maxRecord bounds one line of the log (a settlement file can be large).
const maxRecord = 64 << 20

// parseRecord reads one line of the log (without its newline) and checks
// that it is a change the simulator can apply.
func parseRecord(line []byte) (record, error) {
	var r record
	if len(line) > maxRecord {
		return r, fmt.Errorf("record of %d bytes", len(line))
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return record{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return record{}, errors.New("more than one JSON value")
	}
	if err := r.validate(); err != nil {
		return record{}, err
	}
	if _, err := json.Marshal(r); err != nil { // e.g. a time outside years 0–9999: the next snapshot could not hold it
		return record{}, err
	}
	return r, nil
}

func (r record) validate() error {
	switch {
	case r.Seq == 0:
		return errors.New("no seq")
	case r.NextNumber < 0 || r.NextBankRef < 0:
		return errors.New("negative counter")
	}
	payloads := 0
	for _, set := range []bool{r.Txn != nil, r.Transfer != nil, r.File != nil, r.Payout != nil, r.Callback != nil, r.Done != 0} {
		if set {
			payloads++
		}
	}
	if payloads != 1 {
		return fmt.Errorf("op %q with %d payloads, want 1", clip(r.Op), payloads)
	}
	switch {
	case r.Op == opTxn && r.Txn != nil:
		return validTxn(r.Txn)
	case r.Op == opTransfer && r.Transfer != nil:
		if r.Transfer.ID == "" {
			return errors.New("transfer without id")
		}
	case r.Op == opFile && r.File != nil:
		return validFile(r.File)
	case r.Op == opPayout && r.Payout != nil:
		return validPayout(r.Payout)
	case r.Op == opCallback && r.Callback != nil:
		if !knownGateway(r.Callback.Gateway) || r.Callback.Ref == "" {
			return errors.New("callback without gateway or reference")
		}
	case r.Op == opCallbackDone && r.Done != 0:
	default:
		return fmt.Errorf("op %q: unknown or without its payload", clip(r.Op))
	}
	return nil
}

func validTxn(t *Transaction) error {
	switch {
	case !knownGateway(t.Gateway) || t.Ref == "":
		return errors.New("a transaction without gateway or reference")
	case t.Status != StatusPending && t.Status != StatusSucceeded && t.Status != StatusFailed:
		return fmt.Errorf("transaction %s: status %q", clip(t.Ref), clip(string(t.Status)))
	}
	for _, r := range t.Refunds {
		if r.ID == "" {
			return fmt.Errorf("transaction %s: a refund without id", clip(t.Ref))
		}
	}
	return nil
}

func validFile(f *settlementFile) error {
	if _, err := ParseDay(f.Info.Day); err != nil || !knownGateway(f.Info.Gateway) || f.Info.Revision < 1 {
		return errors.New("a settlement file without gateway, day or revision")
	}
	return nil
}

func validPayout(p *payout) error {
	if _, err := ParseDay(p.Day); err != nil || !knownGateway(p.Gateway) {
		return errors.New("a payout without gateway or day")
	}
	if _, err := ParseDay(p.BookingDay); err != nil {
		return errors.New("a payout without booking day")
	}
	return nil
}

// scanLog reads a log file's content: its records in order, and the length
// of the part they fill. What follows that part is a torn tail — a line
// without its newline, or lines that do not parse with nothing valid after
// them — which a crash can leave and which is ignored. A bad line followed
// by a good one is corruption, an error.
func scanLog(data []byte) (recs []record, valid int, err error) {
	badAt, badErr := -1, error(nil)
	for pos, n := 0, 1; pos < len(data); n++ {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 { // no newline: the write was cut
			break
		}
		line := data[pos : pos+end]
		r, err := parseRecord(line)
		switch {
		case err != nil && badAt < 0:
			badAt, badErr = n, err
		case err == nil && badAt >= 0:
			return nil, 0, fmt.Errorf("line %d: %w (and line %d is valid after it)", badAt, badErr, n)
		case err == nil:
			recs = append(recs, r)
			valid = pos + end + 1
		}
		pos += end + 1
	}
	return recs, valid, nil
}

// walName is the name of generation gen's log file.
func walName(gen int64) string { return fmt.Sprintf("gatewaysim.%08d.wal", gen) }

// walFiles lists the generations of the log files in dir, oldest first.
func walFiles(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var gens []int64
	for _, e := range entries {
		num, ok := strings.CutPrefix(e.Name(), "gatewaysim.")
		if num, ok = strings.CutSuffix(num, ".wal"); !ok || e.IsDir() {
			continue
		}
		if gen, err := strconv.ParseInt(num, 10, 64); err == nil && gen > 0 && walName(gen) == e.Name() {
			gens = append(gens, gen)
		}
	}
	slices.Sort(gens)
	return gens, nil
}

// errClosed is the log's error once the simulator is closed.
var errClosed = errors.New("gatewaysim: the state log is closed")

// wal appends records to the current log file. append only buffers; wait
// writes and syncs, one caller doing it for everyone waiting meanwhile.
type wal struct {
	dir string

	mu      sync.Mutex
	cond    *sync.Cond
	f       *os.File
	gen     int64  // generation of f
	size    int64  // bytes written to f
	buf     []byte // appended, not yet written
	spare   []byte // a second buffer, swapped with buf while one is written
	seq     uint64 // last record appended
	synced  uint64 // last record on disk
	syncing bool   // a caller is writing and syncing outside mu
	err     error  // sticky: once the log failed, nothing is durable any more
	bytes   int64  // bytes written since the last compaction
	syncs   int64  // fsyncs of log files (the benchmark reports records per fsync)
	// full is called (under mu, so it must not block) after a write that
	// takes bytes to compactAt: time to compact.
	full      func()
	compactAt int64
}

// openWAL starts generation gen's log file after the record seq.
func openWAL(dir string, gen int64, seq uint64) (*wal, error) {
	f, err := createLogFile(dir, gen)
	if err != nil {
		return nil, err
	}
	w := &wal{dir: dir, f: f, gen: gen, seq: seq, synced: seq, full: func() {}, compactAt: compactAfter}
	w.cond = sync.NewCond(&w.mu)
	return w, nil
}

func createLogFile(dir string, gen int64) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, walName(gen)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("gatewaysim: log: %w", err)
	}
	if err := syncDir(dir); err != nil { // the new file is there after a crash
		f.Close()
		return nil, err
	}
	return f, nil
}

// syncDir makes the directory's entries (a created or renamed file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("gatewaysim: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("gatewaysim: sync %s: %w", dir, err)
	}
	return nil
}

// append buffers r as the next record and returns its seq. The caller holds
// Sim.mu, so the log's order is the order of the changes.
func (w *wal) append(r *record) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	r.Seq = w.seq
	if w.err != nil {
		return w.seq
	}
	line, err := json.Marshal(r)
	if err != nil {
		w.fail(fmt.Errorf("gatewaysim: log: encode %s: %w", r.Op, err))
		return w.seq
	}
	w.buf = append(append(w.buf, line...), '\n')
	return w.seq
}

// last is the seq of the last record appended.
func (w *wal) last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

// fail makes err sticky and wakes every waiter. The caller holds w.mu.
func (w *wal) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	w.cond.Broadcast()
}

// wait returns once record seq is on disk. The first waiter to find no
// write going on writes and syncs everything appended so far; the others
// wait for it, so concurrent changes share one fsync.
func (w *wal) wait(seq uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.synced < seq {
		switch {
		case w.err != nil:
			return w.err
		case w.syncing:
			w.cond.Wait()
			continue
		}
		w.syncing = true
		buf, upTo, f := w.buf, w.seq, w.f
		w.buf, w.spare = w.spare[:0], nil
		w.mu.Unlock()
		_, err := f.Write(buf)
		if err == nil {
			err = f.Sync()
		}
		w.mu.Lock()
		w.syncing = false
		if cap(buf) <= 1<<20 {
			w.spare = buf[:0]
		}
		if err != nil {
			w.fail(fmt.Errorf("gatewaysim: log: %w", err))
			return w.err
		}
		w.synced, w.size, w.bytes = upTo, w.size+int64(len(buf)), w.bytes+int64(len(buf))
		w.syncs++
		if w.bytes >= w.compactAt {
			w.full()
		}
		w.cond.Broadcast()
	}
	return nil
}

// due reports whether enough was written since the last rotate to compact.
func (w *wal) due() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes >= w.compactAt
}

// rotate writes and syncs what is buffered, then starts the next
// generation's file. It returns the last record of the old file and the new
// generation. The caller holds Sim.mu (nothing is appended meanwhile).
func (w *wal) rotate() (uint64, int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.syncing {
		w.cond.Wait()
	}
	if w.err != nil {
		return 0, 0, w.err
	}
	if len(w.buf) > 0 {
		_, err := w.f.Write(w.buf)
		if err == nil {
			err = w.f.Sync()
		}
		if err != nil {
			w.fail(fmt.Errorf("gatewaysim: log: %w", err))
			return 0, 0, w.err
		}
		w.buf, w.synced = w.buf[:0], w.seq
		w.cond.Broadcast()
	}
	if w.size > 0 {
		f, err := createLogFile(w.dir, w.gen+1)
		if err != nil {
			w.fail(err)
			return 0, 0, w.err
		}
		_ = w.f.Close() // written and synced above
		w.f, w.gen, w.size = f, w.gen+1, 0
	}
	w.bytes = 0
	return w.seq, w.gen, nil
}

// close writes what is buffered and closes the file; the log refuses
// everything after.
func (w *wal) close() error {
	err := w.wait(w.last())
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.syncing {
		w.cond.Wait()
	}
	if cerr := w.f.Close(); err == nil && w.err == nil {
		err = cerr
	}
	w.fail(errClosed)
	return err
}

// removeBefore deletes the log files of generations before gen (their
// records are in the snapshot).
func removeLogsBefore(dir string, gen int64) error {
	gens, err := walFiles(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, g := range gens {
		if g < gen {
			if err := os.Remove(filepath.Join(dir, walName(g))); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
