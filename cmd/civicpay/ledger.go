package main

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/ledger"
)

// ledgerCmd runs `civicpay ledger verify`: it re-derives every invariant of the
// books and exits non-zero naming the first broken thing.
func ledgerCmd(ctx context.Context, pool *pgxpool.Pool, args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "verify" {
		return fmt.Errorf("%w: ledger verify", errUsage)
	}
	rep, err := ledger.Verify(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ledger verified: %d entries, %d postings, %d accounts balance; %d snapshots match; %d sealed batches cover %d entries (%d not yet sealed)\n",
		rep.Entries, rep.Postings, rep.Accounts, rep.Snapshots, rep.SealedBatches, rep.SealedEntries, rep.UnsealedEntries)
	return nil
}
