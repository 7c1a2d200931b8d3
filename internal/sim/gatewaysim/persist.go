package gatewaysim

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// StateFile is the name of the snapshot in Config.DataDir; the log files
// beside it (gatewaysim.NNNNNNNN.wal) hold the changes made after it.
const StateFile = "gatewaysim.json"

// snapshotVersion changes when the state file's shape does. Version 1 (no
// seq, no callbacks) is still read.
const snapshotVersion = 2

// compactAfter is how many bytes of log start a compaction on their own.
const compactAfter = 64 << 20

// snapshot is the state file: everything but faults, armed discrepancies
// and the callback log, which belong to one run.
type snapshot struct {
	Version      int               `json:"version"`
	Seq          uint64            `json:"seq"` // the last log record it holds
	NextNumber   int64             `json:"next_number"`
	NextBankRef  int64             `json:"next_bank_ref"`
	Transactions []*Transaction    `json:"transactions"`
	Transfers    []Transfer        `json:"transfers"`
	Files        []*settlementFile `json:"files"`
	Payouts      []*payout         `json:"payouts"`
	Callbacks    []pendingCallback `json:"callbacks,omitempty"`
}

// Save compacts the state in Config.DataDir: it writes the snapshot
// (a temporary file, synced, renamed over the old one, the directory
// synced) and removes the log files it makes unnecessary. Every change is
// already on disk before it is answered; Save only bounds the log. Without
// a data dir it is ErrConflict.
func (s *Sim) Save() error {
	if s.cfg.DataDir == "" {
		return fmt.Errorf("gatewaysim: save: no data dir configured: %w", ErrConflict)
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	s.mu.Lock()
	w := s.st.wal
	if w == nil {
		s.mu.Unlock()
		return fmt.Errorf("gatewaysim: save: %w", errClosed)
	}
	if s.snapValid && w.last() == s.snapSeq { // nothing changed since the last snapshot
		s.mu.Unlock()
		return nil
	}
	snap := s.snapshotLocked()
	seq, gen, err := w.rotate()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	snap.Seq = seq
	if err := writeSnapshot(s.cfg.DataDir, snap); err != nil {
		return err
	}
	s.snapSeq, s.snapValid = seq, true
	if err := removeLogsBefore(s.cfg.DataDir, gen); err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	return nil
}

// snapshotLocked copies the state. The caller holds s.mu; the copy shares
// nothing that changes later (settlement files and payouts never do).
func (s *Sim) snapshotLocked() *snapshot {
	st := s.st
	snap := &snapshot{Version: snapshotVersion, NextNumber: st.nextNo, NextBankRef: st.nextBank,
		Transactions: make([]*Transaction, 0, len(st.txns)), Transfers: slices.Clone(st.transfers)}
	for _, t := range st.txns {
		c := t.clone()
		snap.Transactions = append(snap.Transactions, &c)
	}
	for _, files := range st.files {
		snap.Files = append(snap.Files, files...)
	}
	for _, p := range st.payouts {
		snap.Payouts = append(snap.Payouts, p)
	}
	for id, c := range st.callbacks {
		c.ID = id
		snap.Callbacks = append(snap.Callbacks, c)
	}
	slices.SortFunc(snap.Callbacks, func(a, b pendingCallback) int { return cmp.Compare(a.ID, b.ID) })
	return snap
}

// tempPrefix starts the names of snapshots being written.
const tempPrefix = StateFile + ".tmp-"

// writeSnapshot replaces the state file with snap, durably.
func writeSnapshot(dir string, snap *snapshot) error {
	data, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, StateFile))
	}
	if err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	return syncDir(dir)
}

// open loads the snapshot and replays the log after it, then starts a new
// log file and compacts (so a torn tail is never appended to). The
// callbacks still owed are sent again once New returns.
func (s *Sim) open() error {
	dir := s.cfg.DataDir
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gatewaysim: open: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return err
	}
	if err := s.openLocked(dir); err != nil {
		lock.Close()
		return err
	}
	s.lock = lock
	return nil
}

// openLocked is open once the data dir is this process's.
func (s *Sim) openLocked(dir string) error {
	if stale, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*")); len(stale) > 0 { // a save cut short
		for _, f := range stale {
			_ = os.Remove(f)
		}
	}
	seq, err := s.loadSnapshot()
	if err != nil {
		return err
	}
	gens, err := walFiles(dir)
	if err != nil {
		return fmt.Errorf("gatewaysim: open: %w", err)
	}
	for _, gen := range gens {
		if seq, err = s.replay(filepath.Join(dir, walName(gen)), seq); err != nil {
			return err
		}
	}
	next := int64(1)
	if len(gens) > 0 {
		next = gens[len(gens)-1] + 1
	}
	w, err := openWAL(dir, next, seq)
	if err != nil {
		return err
	}
	s.st.wal = w
	s.snapValid = false // even an unchanged state is written once: the old files go
	if err := s.Save(); err != nil {
		_ = w.close()
		return err
	}
	return nil
}

// loadSnapshot reads the state file, if there is one, and returns its seq.
func (s *Sim) loadSnapshot() (uint64, error) {
	path := filepath.Join(s.cfg.DataDir, StateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("gatewaysim: load: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return 0, fmt.Errorf("gatewaysim: load %s: %w", path, err)
	}
	if snap.Version != snapshotVersion && snap.Version != 1 {
		return 0, fmt.Errorf("gatewaysim: load %s: version %d, want %d (remove the file to start afresh)", path, snap.Version, snapshotVersion)
	}
	st := s.st
	st.nextNo, st.nextBank = max(st.nextNo, snap.NextNumber), max(st.nextBank, snap.NextBankRef)
	for _, t := range snap.Transactions {
		if t == nil || validTxn(t) != nil {
			return 0, fmt.Errorf("gatewaysim: load %s: a transaction without gateway or reference", path)
		}
		st.add(t)
	}
	st.transfers = snap.Transfers
	slices.SortFunc(snap.Files, func(a, b *settlementFile) int { return cmp.Compare(a.Info.Revision, b.Info.Revision) })
	for _, f := range snap.Files {
		key := fileKey{f.Info.Gateway, f.Info.Day}
		st.files[key] = append(st.files[key], f)
	}
	for _, p := range snap.Payouts {
		st.payouts[fileKey{p.Gateway, p.Day}] = p
	}
	for _, c := range snap.Callbacks {
		st.callbacks[c.ID] = pendingCallback{Gateway: c.Gateway, Ref: c.Ref, Bad: c.Bad}
	}
	return snap.Seq, nil
}

// replay applies the records of one log file that come after seq, and
// returns the last seq applied.
func (s *Sim) replay(path string, seq uint64) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return seq, fmt.Errorf("gatewaysim: replay: %w", err)
	}
	recs, valid, err := scanLog(data)
	if err != nil {
		return seq, fmt.Errorf("gatewaysim: replay %s: %w", path, err)
	}
	if valid < len(data) {
		s.cfg.Logger.Warn("gatewaysim: ignoring the torn end of a log file (a write cut by a crash)",
			"file", path, "bytes", len(data)-valid)
	}
	for _, r := range recs {
		switch {
		case r.Seq <= seq: // in the snapshot already
			continue
		case r.Seq != seq+1:
			return seq, fmt.Errorf("gatewaysim: replay %s: record %d follows %d: records are missing", path, r.Seq, seq)
		}
		if err := s.st.apply(r); err != nil {
			return seq, fmt.Errorf("gatewaysim: replay %s: record %d: %w", path, r.Seq, err)
		}
		seq = r.Seq
	}
	return seq, nil
}

// apply redoes one logged change.
func (st *store) apply(r record) error {
	st.nextNo, st.nextBank = max(st.nextNo, r.NextNumber), max(st.nextBank, r.NextBankRef)
	switch r.Op {
	case opTxn:
		st.add(r.Txn)
	case opTransfer:
		st.transfers = append(st.transfers, *r.Transfer)
	case opFile:
		key := fileKey{r.File.Info.Gateway, r.File.Info.Day}
		files := st.files[key]
		switch rev := r.File.Info.Revision; {
		case rev == len(files)+1:
			st.files[key] = append(files, r.File)
		case rev <= len(files): // written again: the same file
			files[rev-1] = r.File
		default:
			return fmt.Errorf("%s file of %s revision %d after %d", key.gateway, key.day, rev, len(files))
		}
	case opPayout:
		st.payouts[fileKey{r.Payout.Gateway, r.Payout.Day}] = r.Payout
	case opCallback:
		st.callbacks[r.Seq] = *r.Callback
	case opCallbackDone:
		delete(st.callbacks, r.Done)
	}
	return nil
}
