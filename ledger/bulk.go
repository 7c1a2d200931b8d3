package ledger

// ContentHash is the content hash Post records with e (reverses: the id of
// the entry e mirrors, else 0), for programs that bulk-load entries with COPY
// rather than Post, such as cmd/benchscale's year of payments. e must be as
// Post stores it: valid (Post's checks are not repeated here), its effective
// time in whole microseconds, RecordedBy set. Verify recomputes the hash from
// the stored rows, so a loader that gets it wrong is caught.
func ContentHash(e NewEntry, reverses int64) []byte { return contentHash(e, reverses) }
