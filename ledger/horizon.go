package ledger

import "github.com/civicpay/civicpay/internal/foundation/db"

// Advisory lock keys (transaction level) of the ledger's maintenance jobs.
const (
	snapshotLockKey int64 = 0x6c65646765720001 // "ledger" + 1
	sealLockKey     int64 = 0x6c65646765720002
	rollupLockKey   int64 = 0x6c65646765720003
)

// horizonSQL is db.HorizonSQL: the xid below which everything that can
// write to this database has finished.
const horizonSQL = db.HorizonSQL
