package ledger

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// OrderReference is the reference of an order's entries: "order:<id>" itself
// (a manual entry may name the order alone) or under "order:<id>/" — its
// payment and overpayments ("…/attempt:<id>"), its refunds ("…/refund:<id>",
// "…/attempt:<id>/refund:<id>") and the reversals of any of them, which keep
// the reversed entry's reference.
func OrderReference(orderID uuid.UUID) string { return "order:" + orderID.String() }

// orderEntriesSQL selects the ids of the entries of reference $1, given $2 =
// $1+"0": '0' is the byte after '/', so [$1, $2) in byte order holds $1 and
// every "$1/…" (and a few others the second condition drops).
const orderEntriesSQL = `SELECT id FROM ledger_entries
	WHERE reference COLLATE "C" >= $1 AND reference COLLATE "C" < $2
		AND (reference = $1 OR starts_with(reference, $1 || '/'))
	ORDER BY id`

// OrderEntries returns every entry of the order with its postings, in
// recording (id) order. It reads by the reference index
// (ledger_entries_reference_idx): the range from "order:<id>" up to the next
// string after every "order:<id>/…", then exactly those references.
func OrderEntries(ctx context.Context, db DBTX, orderID uuid.UUID) ([]Entry, error) {
	ref := OrderReference(orderID)
	rows, err := db.Query(ctx, orderEntriesSQL, ref, ref+"0")
	if err != nil {
		return nil, fmt.Errorf("ledger: entries of order %s: %w", orderID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("ledger: entries of order %s: %w", orderID, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return getEntries(ctx, db, ids)
}
