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

// StateFile is the name of the state file in Config.DataDir.
const StateFile = "gatewaysim.json"

// snapshotVersion changes when the state file's shape does.
const snapshotVersion = 1

// snapshot is the state file: everything but faults, armed discrepancies
// and the callback log, which belong to one run.
type snapshot struct {
	Version      int               `json:"version"`
	NextNumber   int64             `json:"next_number"`
	NextBankRef  int64             `json:"next_bank_ref"`
	Transactions []*Transaction    `json:"transactions"`
	Transfers    []Transfer        `json:"transfers"`
	Files        []*settlementFile `json:"files"`
	Payouts      []*payout         `json:"payouts"`
}

// Save writes the state to Config.DataDir (atomically: a temporary file
// renamed over the old one). Without a data dir it is ErrConflict.
func (s *Sim) Save() error {
	if s.cfg.DataDir == "" {
		return fmt.Errorf("gatewaysim: save: no data dir configured: %w", ErrConflict)
	}
	s.mu.Lock()
	snap := snapshot{Version: snapshotVersion, NextNumber: s.st.nextNo, NextBankRef: s.st.nextBank,
		Transfers: s.st.transfers}
	for _, t := range s.st.txns {
		snap.Transactions = append(snap.Transactions, t)
	}
	for _, files := range s.st.files {
		snap.Files = append(snap.Files, files...)
	}
	for _, p := range s.st.payouts {
		snap.Payouts = append(snap.Payouts, p)
	}
	data, err := json.Marshal(snap)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	tmp, err := os.CreateTemp(s.cfg.DataDir, StateFile+".*")
	if err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(s.cfg.DataDir, StateFile))
	}
	if err != nil {
		return fmt.Errorf("gatewaysim: save: %w", err)
	}
	return nil
}

// load reads the state file, if there is one.
func (s *Sim) load() error {
	if s.cfg.DataDir == "" {
		return nil
	}
	path := filepath.Join(s.cfg.DataDir, StateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gatewaysim: load: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("gatewaysim: load %s: %w", path, err)
	}
	if snap.Version != snapshotVersion {
		return fmt.Errorf("gatewaysim: load %s: version %d, want %d (remove the file to start afresh)", path, snap.Version, snapshotVersion)
	}
	st := s.st
	st.nextNo, st.nextBank = max(st.nextNo, snap.NextNumber), max(st.nextBank, snap.NextBankRef)
	for _, t := range snap.Transactions {
		if t == nil || !knownGateway(t.Gateway) || t.Ref == "" {
			return fmt.Errorf("gatewaysim: load %s: a transaction without gateway or reference", path)
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
	return nil
}
