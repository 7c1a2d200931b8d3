package ledger

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// An entry looked up by id (GetEntry, the entries of a listing) is read in
// its month's partition only: its effective time, from ledger_entry_keys,
// prunes the others. By id alone every month's partition was looked into.
// The rollups' new postings (and the seal's batches) join postings to
// entries on the effective time too, which prunes them to the entry's month
// when the planner joins by nested loop, as it does on a large ledger.
func TestEntryLookupsReadTheirMonthOnly(t *testing.T) {
	t.Parallel()
	pool := monthsPool(t, 3)
	var ids []int64
	for i, at := range []time.Time{
		time.Date(2023, 1, 15, 10, 0, 0, 0, time.UTC), time.Date(2023, 2, 15, 10, 0, 0, 0, time.UTC),
		time.Date(2023, 3, 15, 10, 0, 0, 0, time.UTC),
	} {
		p := payment("lookup-"+string(rune('a'+i)), "A", "A-FEE", 100000)
		p.EffectiveAt = at
		ids = append(ids, postPayment(t, pool, p).ID)
	}
	feb := []string{"ledger_postings_p202302"}
	for _, c := range []struct {
		name string
		sql  string
		args []any
	}{
		{"entries by id", entriesByIDSQL, []any{[]int64{ids[1]}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := pgtest.PartitionsRead(t, pool, "ledger_postings", c.sql, c.args...); !slices.Equal(got, feb) {
				t.Fatalf("read partitions %v, want %v", got, feb)
			}
		})
	}
	// The rollups' new postings: on a table this small the planner joins
	// every partition by hash; with nested loops, as on a large ledger, the
	// entry's effective time prunes its postings to their month.
	cfg := pool.Config().Copy()
	for _, off := range []string{"enable_hashjoin", "enable_mergejoin", "enable_seqscan"} {
		cfg.ConnConfig.RuntimeParams[off] = "off"
	}
	nested, err := pgxpool.NewWithConfig(bg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nested.Close)
	var xid int64
	if err := pool.QueryRow(bg, `SELECT xid FROM ledger_entries WHERE id = $1`, ids[1]).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	if got := pgtest.PartitionsRead(t, nested, "ledger_postings", `SELECT p.leg FROM `+newPostingsSQL, xid, xid+1); !slices.Equal(got, feb) {
		t.Fatalf("new postings of xid %d: read partitions %v, want %v", xid, got, feb)
	}
	e, err := GetEntry(bg, pool, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Postings) != 2 || e.ID != ids[1] {
		t.Fatalf("GetEntry(%d) = entry %d with %d postings, want its 2", ids[1], e.ID, len(e.Postings))
	}
}
