package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/ledger"
)

// ledgerCmd runs `civicpay ledger verify`, which re-derives every invariant of
// the books and exits non-zero naming the first broken thing, and `civicpay
// ledger rebuild-rollups`, which drops the revenue rollups and balance
// checkpoints and makes them again from the postings, printing its progress.
func ledgerCmd(ctx context.Context, pool *pgxpool.Pool, args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: ledger verify | ledger rebuild-rollups", errUsage)
	}
	switch args[0] {
	case "verify":
		rep, err := ledger.Verify(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "ledger verified: %d entries, %d postings, %d accounts balance; %d snapshots match; %d sealed batches cover %d entries (%d not yet sealed); %d daily and %d monthly revenue rollups and %d balance checkpoints match the postings below xid %d\n",
			rep.Entries, rep.Postings, rep.Accounts, rep.Snapshots, rep.SealedBatches, rep.SealedEntries, rep.UnsealedEntries,
			rep.RevenueRollups, rep.MonthlyRollups, rep.Checkpoints, rep.RollupHorizon)
		return nil
	case "rebuild-rollups":
		start := time.Now()
		p, err := ledger.RebuildRollups(cliContext(ctx, "ledger rebuild-rollups"), pool, func(p ledger.RebuildProgress) {
			fmt.Fprintf(out, "rollups: %d of %d entries (%s), up to xid %d, %s\n", p.Entries, p.Total, percent(p.Entries, p.Total),
				p.UpToXID, time.Since(start).Round(time.Millisecond))
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rollups rebuilt: %d entries rolled up to xid %d in %s\n", p.Entries, p.UpToXID, time.Since(start).Round(time.Millisecond))
		return nil
	}
	return fmt.Errorf("%w: ledger verify | ledger rebuild-rollups", errUsage)
}

func percent(n, of int64) string {
	if of == 0 {
		return "100%"
	}
	return fmt.Sprintf("%d%%", n*100/of)
}
