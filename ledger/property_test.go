package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
)

// books is the test's model of the ledger: the net of every account, from the
// entries the ledger reported as newly created.
type books struct {
	mu      sync.Mutex
	net     map[string]decimal.Decimal
	entries []Entry
}

func (b *books) record(e Entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range e.Postings {
		b.net[p.Account] = b.net[p.Account].Add(p.Net())
	}
	b.entries = append(b.entries, e)
}

func (b *books) pick(rng *rand.Rand) (Entry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.entries) == 0 {
		return Entry{}, false
	}
	return b.entries[rng.IntN(len(b.entries))], true
}

var propertyAccounts = map[string][]string{
	"VND": {"gateway:hot:clearing", "gateway:vnpay:clearing", "agency:A:collected", "agency:B:collected", "agency:C:collected",
		"treasury:0011:bank", "suspense", "overpayments", "expense:write-off", "revenue:fees"},
	"USD": {"gateway:card-usd:clearing", "agency:A-USD:collected", "treasury:0022:bank"},
}

// randomEntry builds a balanced entry of 2 to 4 postings in one currency,
// touching the hot account half the time.
func randomEntry(rng *rand.Rand, key string) NewEntry {
	currency := []string{"VND", "VND", "VND", "USD"}[rng.IntN(4)]
	accounts := propertyAccounts[currency]
	account := func() string {
		if currency == "VND" && rng.IntN(2) == 0 {
			return accounts[0]
		}
		return accounts[rng.IntN(len(accounts))]
	}
	amount := func(max int64) decimal.Decimal {
		if currency == "USD" {
			return decimal.New(1+rng.Int64N(max), -2)
		}
		return decimal.NewFromInt(1 + rng.Int64N(max))
	}
	e := NewEntry{Key: key, Kind: KindAdjustment, Description: "property", EffectiveAt: t0.Add(time.Duration(rng.IntN(1e6)) * time.Second)}
	total := decimal.Zero
	for range 1 + rng.IntN(2) {
		a := amount(1_000_000)
		total = total.Add(a)
		e.Postings = append(e.Postings, Posting{Account: account(), Direction: Debit, Amount: a, Currency: currency})
	}
	credits := []decimal.Decimal{total}
	if unit := amount(1); total.GreaterThan(unit) && rng.IntN(2) == 0 { // split, at least one unit each
		units := total.Div(unit).IntPart()
		first := unit.Mul(decimal.NewFromInt(1 + rng.Int64N(units-1)))
		credits = []decimal.Decimal{first, total.Sub(first)}
	}
	for _, c := range credits {
		e.Postings = append(e.Postings, Posting{Account: account(), Direction: Credit, Amount: c, Currency: currency})
	}
	return e
}

// Random postings, reversals, replays and rolled-back transactions from many
// goroutines at once, with the sealer and the snapshotter running alongside:
// the trial balance stays zero, every balance equals the model, and Verify
// is green.
func TestPropertyConcurrentBooksStayBalanced(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	seed := newSeed(t)
	model := &books{net: map[string]decimal.Decimal{}}

	done := make(chan struct{})
	maintenance := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				maintenance <- nil
				return
			default:
			}
			if _, err := Seal(bg, pool); err != nil {
				maintenance <- err
				return
			}
			if _, err := SnapshotBalances(bg, pool); err != nil {
				maintenance <- err
				return
			}
		}
	}()

	const workers, ops = 12, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := propertyWorker(pool, model, rand.New(rand.NewPCG(seed, uint64(w))), w, ops); err != nil {
				errs <- fmt.Errorf("worker %d: %w", w, err)
			}
		}()
	}
	wg.Wait()
	close(done)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-maintenance; err != nil {
		t.Fatalf("maintenance: %v", err)
	}
	if t.Failed() {
		return
	}
	sealAll(t, pool)
	snapshotAll(t, pool)
	r := mustVerify(t, pool)
	if r.Entries != int64(len(model.entries)) || r.UnsealedEntries != 0 {
		t.Fatalf("verify saw %d entries (%d unsealed), the model %d", r.Entries, r.UnsealedEntries, len(model.entries))
	}
	current, err := Balances(bg, pool, "*", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	future, err := Balances(bg, pool, "*", t0.AddDate(10, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, total := range Summarize(current) {
		if !total.Net.IsZero() {
			t.Errorf("trial balance in %s is %s", total.Currency, total.Net)
		}
	}
	for i, b := range current {
		if want := model.net[b.Account]; !b.Net.Equal(want) || !future[i].Net.Equal(want) {
			t.Errorf("%s: current %s, as of the future %s, model %s", b.Account, b.Net, future[i].Net, want)
		}
	}
}

func propertyWorker(pool *pgxpool.Pool, model *books, rng *rand.Rand, w, ops int) error {
	var mine []NewEntry // entries this worker posted, for replays
	for op := range ops {
		key := fmt.Sprintf("w%d-%d", w, op)
		switch r := rng.IntN(10); {
		case r < 6:
			e := randomEntry(rng, key)
			created, err := postSomehow(pool, rng, e)
			if err != nil {
				return err
			}
			if created.ID != 0 {
				mine = append(mine, e)
				model.record(created)
			}
		case r < 8:
			orig, ok := model.pick(rng)
			if !ok || orig.Kind == KindReversal {
				continue
			}
			revKey := fmt.Sprintf("rev-%d", orig.ID) // shared: racing workers replay each other
			if rng.IntN(2) == 0 {
				revKey = "rev-" + key // own: the loser gets ErrAlreadyReversed
			}
			rev, created, err := reverse(bg, pool, Reversal{Key: revKey, EntryID: orig.ID, Reason: "property"})
			switch {
			case errors.Is(err, ErrAlreadyReversed):
			case err != nil:
				return fmt.Errorf("reverse %d: %w", orig.ID, err)
			case created:
				model.record(rev)
			}
		case r < 9 && len(mine) > 0:
			e := mine[rng.IntN(len(mine))]
			_, created, err := post(bg, pool, e, 0)
			if err != nil || created {
				return fmt.Errorf("replay %s: created %v, %v", e.Key, created, err)
			}
		case len(mine) > 0:
			e := mine[rng.IntN(len(mine))]
			e.Description = "changed"
			if _, err := Post(bg, pool, e); !errors.Is(err, ErrIdempotencyConflict) {
				return fmt.Errorf("conflicting replay %s: %v", e.Key, err)
			}
		}
	}
	return nil
}

// postSomehow posts e on the pool, in a committed transaction, or in one
// that is rolled back (then it returns a zero Entry).
func postSomehow(pool *pgxpool.Pool, rng *rand.Rand, e NewEntry) (Entry, error) {
	switch rng.IntN(5) {
	case 0:
		tx, err := pool.Begin(bg)
		if err != nil {
			return Entry{}, err
		}
		if _, err := Post(bg, tx, e); err != nil {
			_ = tx.Rollback(bg)
			return Entry{}, err
		}
		return Entry{}, tx.Rollback(bg)
	case 1, 2:
		var created Entry
		err := pgx.BeginFunc(bg, pool, func(tx pgx.Tx) error {
			var err error
			created, err = Post(bg, tx, e)
			return err
		})
		return created, err
	default:
		return Post(bg, pool, e)
	}
}
