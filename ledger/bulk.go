package ledger

// ContentHash is the content hash Post records with e (reverses: the id of
// the entry e mirrors, else 0), for programs that bulk-load entries with COPY
// rather than Post, such as cmd/benchscale's year of payments. e must be as
// Post stores it: valid (Post's checks are not repeated here), its effective
// time in whole microseconds, RecordedBy set. Verify recomputes the hash from
// the stored rows, so a loader that gets it wrong is caught.
func ContentHash(e NewEntry, reverses int64) []byte { return contentHash(e, reverses) }

// SealBatch is one row of ledger_seals.
type SealBatch struct {
	No, LastXID, LastEntryID int64
	Count                    int
	PrevHash, Hash           []byte
}

// BulkSealer computes the seal chain that Seal would write over entries
// loaded in bulk, so that the loader writes ledger_seals with them instead
// of leaving a year of entries to the sealing job (Seal takes a transaction
// per 1,000 entries). It starts a new chain: the ledger must have no seals.
type BulkSealer struct {
	cur  *batch
	no   int64
	prev []byte
}

// NewBulkSealer starts the chain at its genesis.
func NewBulkSealer() *BulkSealer { return &BulkSealer{prev: genesis} }

// Add takes the next entry in chain order ((xid, id) ascending), as it is
// stored: e with its ID, Key, RecordedBy and RecordedAt (whole
// microseconds), its transaction's xid and the content hash stored with it.
// It returns a batch each time one is full, batches being as large as
// Seal's.
func (s *BulkSealer) Add(e Entry, xid int64, storedHash []byte) (SealBatch, bool) {
	if s.cur == nil {
		s.no++
		s.cur = newBatch(s.no, s.prev)
	}
	s.cur.add(storedEntry{Entry: e, xid: xid, storedHash: storedHash})
	if s.cur.count < sealBatchSize {
		return SealBatch{}, false
	}
	return s.Close()
}

// Close ends the batch being filled, if it has entries, and returns it.
func (s *BulkSealer) Close() (SealBatch, bool) {
	b := s.cur
	if b == nil || b.count == 0 {
		return SealBatch{}, false
	}
	hash := b.sum()
	s.cur, s.prev = nil, hash
	return SealBatch{No: b.no, LastXID: b.lastXID, LastEntryID: b.lastID, Count: b.count, PrevHash: b.prev, Hash: hash}, true
}
