package ledger

import (
	"slices"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/partition"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// An entry looked up by id (GetEntry, the entries of a listing) is read in
// its month's partition only: its effective time, from ledger_entry_keys,
// prunes the others. By id alone every month's partition was looked into.
// (The seal's batches and the rollups' new postings join postings to
// entries on the effective time too; on a table this small the planner
// reads them with a hash join over every partition, so only a large ledger
// shows their pruning: the closing note of issue 15 has it at 10M.)
func TestEntryLookupsReadTheirMonthOnly(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	if _, err := partition.Ensure(bg, pool, time.Date(2023, 1, 1, 0, 0, 0, 0, bizday.Zone), 3); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, at := range []time.Time{
		time.Date(2023, 1, 15, 10, 0, 0, 0, time.UTC), time.Date(2023, 2, 15, 10, 0, 0, 0, time.UTC),
		time.Date(2023, 3, 15, 10, 0, 0, 0, time.UTC),
	} {
		p := payment("lookup-"+string(rune('a'+i)), "A", "A-FEE", 100000)
		p.EffectiveAt = at
		es, err := PostPayments(bg, pool, []Payment{p})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, es[0].ID)
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
	e, err := GetEntry(bg, pool, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Postings) != 2 || e.ID != ids[1] {
		t.Fatalf("GetEntry(%d) = entry %d with %d postings, want its 2", ids[1], e.ID, len(e.Postings))
	}
}
