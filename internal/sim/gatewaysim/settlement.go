package gatewaysim

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/civicpay/civicpay/reconciliation/statement"
	"github.com/shopspring/decimal"
)

// SettlementInfo describes one settlement file the simulator issued.
type SettlementInfo struct {
	Gateway   string    `json:"gateway"`
	Day       string    `json:"day"` // business day, yyyy-mm-dd (GMT+7)
	Revision  int       `json:"revision"`
	FileID    string    `json:"file_id"` // e.g. STL-MOMO-20261123-R2
	Count     int       `json:"count"`
	Gross     int64     `json:"gross"`
	Fees      int64     `json:"fees"`
	Net       int64     `json:"net"`
	Injected  []string  `json:"injected,omitempty"` // discrepancies written into this file
	CreatedAt time.Time `json:"created_at"`
}

// FileDiscrepancies are written into the next settlement file issued for a
// gateway (any day), then disarmed. Each names a line by its reference, or
// "*" for the file's first payment line; a reference the file does not hold
// is ignored (SettlementInfo.Injected lists what was applied).
type FileDiscrepancies struct {
	DropLine      string `json:"drop_line,omitempty"`      // leave this line out
	DuplicateLine string `json:"duplicate_line,omitempty"` // write this line twice
	AlterFee      string `json:"alter_fee,omitempty"`      // charge FeeDelta more on this line
	FeeDelta      int64  `json:"fee_delta,omitempty"`      // default 1000 VND
}

func (d FileDiscrepancies) empty() bool {
	return d.DropLine == "" && d.DuplicateLine == "" && d.AlterFee == ""
}

type fileKey struct{ gateway, day string }

// settlementFile is an issued file, kept as written.
type settlementFile struct {
	Info    SettlementInfo `json:"info"`
	Content []byte         `json:"content"`
}

// settlementLines are gateway's payments and refunds of the business day
// starting at day, in time order. The caller holds s.mu.
func (s *Sim) settlementLines(gateway string, day time.Time) []statement.SettlementLine {
	want, fee := dayString(day), s.cfg.fee(gateway)
	var out []statement.SettlementLine
	for _, t := range s.st.txns {
		if t.Gateway != gateway {
			continue
		}
		if t.Status == StatusSucceeded && dayString(t.CompletedAt) == want {
			f := fee.Of(t.Amount)
			out = append(out, statement.SettlementLine{GatewayTxnID: t.GatewayTxnID, Reference: t.Ref,
				Type: statement.TypePayment, Gross: decimal.NewFromInt(t.Amount), Fee: decimal.NewFromInt(f),
				Net: decimal.NewFromInt(t.Amount - f), Currency: "VND", At: t.CompletedAt})
		}
		for _, r := range t.Refunds {
			if dayString(r.At) != want {
				continue
			}
			ref := r.ID // MoMo's refund orderId, ZaloPay's m_refund_id
			if gateway == VNPAY {
				ref = t.Ref // VNPAY refunds carry the payment's vnp_TxnRef
			}
			out = append(out, statement.SettlementLine{GatewayTxnID: r.GatewayRefundID, Reference: ref,
				Type: statement.TypeRefund, Gross: decimal.NewFromInt(-r.Amount), Fee: decimal.Zero,
				Net: decimal.NewFromInt(-r.Amount), Currency: "VND", At: r.At})
		}
	}
	slices.SortFunc(out, func(a, b statement.SettlementLine) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(len(a.GatewayTxnID), len(b.GatewayTxnID)),
			cmp.Compare(a.GatewayTxnID, b.GatewayTxnID))
	})
	return out
}

// apply writes the discrepancies into lines and says what it did.
func (d FileDiscrepancies) apply(lines []statement.SettlementLine) ([]statement.SettlementLine, []string) {
	find := func(ref string) int {
		return slices.IndexFunc(lines, func(l statement.SettlementLine) bool {
			return ref == "*" && l.Type == statement.TypePayment || ref != "*" && l.Reference == ref
		})
	}
	var done []string
	if i := find(d.AlterFee); d.AlterFee != "" && i >= 0 {
		delta := d.FeeDelta
		if delta == 0 {
			delta = 1000
		}
		l := &lines[i]
		l.Fee = l.Fee.Add(decimal.NewFromInt(delta))
		l.Net = l.Gross.Sub(l.Fee)
		done = append(done, fmt.Sprintf("alter_fee %s %+d", l.Reference, delta))
	}
	if i := find(d.DuplicateLine); d.DuplicateLine != "" && i >= 0 {
		lines = slices.Insert(lines, i+1, lines[i])
		done = append(done, "duplicate_line "+lines[i].Reference)
	}
	if i := find(d.DropLine); d.DropLine != "" && i >= 0 {
		done = append(done, "drop_line "+lines[i].Reference)
		lines = slices.Delete(lines, i, i+1)
	}
	return lines, done
}

// issue writes the next revision of gateway's file for day, consuming the
// armed discrepancies. The caller holds s.mu.
func (s *Sim) issue(gateway string, day time.Time) (*settlementFile, error) {
	key := fileKey{gateway, dayString(day)}
	rev := len(s.st.files[key]) + 1
	if rev > statement.MaxRevision {
		return nil, fmt.Errorf("%s file of %s: revision %d exceeds %d: %w", gateway, key.day, rev, statement.MaxRevision, ErrConflict)
	}
	lines, injected := s.st.fileFaults[gateway].apply(s.settlementLines(gateway, day))
	var buf bytes.Buffer
	w, err := statement.NewSettlementWriter(gateway, &buf, statement.SettlementFile{BusinessDate: day, Revision: rev})
	if err != nil {
		return nil, fmt.Errorf("gatewaysim: settlement %s %s: %w", gateway, key.day, err)
	}
	for _, l := range lines {
		if err := w.Write(l); err != nil {
			return nil, fmt.Errorf("gatewaysim: settlement %s %s: %w", gateway, key.day, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("gatewaysim: settlement %s %s: %w", gateway, key.day, err)
	}
	delete(s.st.fileFaults, gateway)
	f := w.File()
	file := &settlementFile{Content: buf.Bytes(), Info: SettlementInfo{
		Gateway: gateway, Day: key.day, Revision: rev, FileID: f.FileID, Count: f.Count,
		Gross: f.Gross.IntPart(), Fees: f.Fees.IntPart(), Net: f.Net.IntPart(), Injected: injected, CreatedAt: s.cfg.Now(),
	}}
	s.st.files[key] = append(s.st.files[key], file)
	s.st.log(&record{Op: opFile, File: file})
	return file, nil
}

// latestFile is gateway's newest file for day, issuing revision 1 when
// there is none. The caller holds s.mu.
func (s *Sim) latestFile(gateway string, day time.Time) (*settlementFile, error) {
	if files := s.st.files[fileKey{gateway, dayString(day)}]; len(files) > 0 {
		return files[len(files)-1], nil
	}
	return s.issue(gateway, day)
}

// checkDay refuses a business day that has not started yet.
func (s *Sim) checkDay(day time.Time) error {
	if day.After(s.cfg.Now()) {
		return invalid("day %s has not started", dayString(day))
	}
	return nil
}

// Settlement returns gateway's settlement file for the business day that
// starts at day (midnight ICT; see ParseDay): the given revision, or with
// revision 0 the latest — issuing revision 1 from the current state when
// none was issued yet. An issued file never changes; ReviseSettlement
// issues a corrected one.
func (s *Sim) Settlement(gateway string, day time.Time, revision int) ([]byte, SettlementInfo, error) {
	if err := s.checkFileRequest(gateway, day); err != nil {
		return nil, SettlementInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var f *settlementFile
	if revision == 0 {
		var err error
		if f, err = s.latestFile(gateway, day); err != nil {
			return nil, SettlementInfo{}, err
		}
	} else {
		files := s.st.files[fileKey{gateway, dayString(day)}]
		if revision < 0 || revision > len(files) {
			return nil, SettlementInfo{}, fmt.Errorf("%s file of %s revision %d: %w", gateway, dayString(day), revision, ErrNotFound)
		}
		f = files[revision-1]
	}
	return f.Content, f.Info, nil
}

// ReviseSettlement issues the next revision of gateway's file for day from
// the current state (with any armed discrepancies).
func (s *Sim) ReviseSettlement(gateway string, day time.Time) (SettlementInfo, error) {
	if err := s.checkFileRequest(gateway, day); err != nil {
		return SettlementInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.issue(gateway, day)
	if err != nil {
		return SettlementInfo{}, err
	}
	return f.Info, nil
}

func (s *Sim) checkFileRequest(gateway string, day time.Time) error {
	if !knownGateway(gateway) {
		return invalidGateway(gateway)
	}
	return s.checkDay(day)
}

// Settlements lists every issued file, by day, gateway and revision.
func (s *Sim) Settlements() []SettlementInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SettlementInfo
	for _, files := range s.st.files {
		for _, f := range files {
			out = append(out, f.Info)
		}
	}
	slices.SortFunc(out, func(a, b SettlementInfo) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Gateway, b.Gateway), cmp.Compare(a.Revision, b.Revision))
	})
	return out
}
