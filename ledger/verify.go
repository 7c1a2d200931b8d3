package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Finding is one broken invariant.
type Finding struct {
	Check   string `json:"check"`   // entry, posting, account, trial_balance, snapshot, seal, rollup or checkpoint
	Subject string `json:"subject"` // what is broken: "entry 42", "seal batch 3", "account suspense", "currency VND"
	Detail  string `json:"detail"`
}

func (f Finding) String() string { return f.Check + ": " + f.Subject + ": " + f.Detail }

// Report is what Verify checked and found. Findings is empty when the ledger
// is sound; otherwise the first finding is the first broken thing.
type Report struct {
	Entries         int64     `json:"entries"`
	Postings        int64     `json:"postings"`
	Accounts        int64     `json:"accounts"`
	Snapshots       int64     `json:"snapshots"`
	SealedBatches   int64     `json:"sealed_batches"`
	SealedEntries   int64     `json:"sealed_entries"`
	UnsealedEntries int64     `json:"unsealed_entries"`
	RollupHorizon   int64     `json:"rollup_horizon"`  // rollups and checkpoints cover the postings with xid below it
	RevenueRollups  int64     `json:"revenue_rollups"` // daily
	MonthlyRollups  int64     `json:"monthly_revenue_rollups"`
	Checkpoints     int64     `json:"balance_checkpoints"`
	Findings        []Finding `json:"findings"`
	// Steps are Verify's checks in the order their findings are listed,
	// each with how long it took (the steps run concurrently, so their
	// durations add up to more than Verify's).
	Steps []VerifyStep `json:"steps"`
}

// VerifyStep is one of Verify's checks and how long it took.
type VerifyStep struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration_ns"`
}

// OK says whether nothing is broken.
func (r Report) OK() bool { return len(r.Findings) == 0 }

// add merges o's counts and findings into r (each count is some one step's).
func (r *Report) add(o Report) {
	r.Entries += o.Entries
	r.Postings += o.Postings
	r.Accounts += o.Accounts
	r.Snapshots += o.Snapshots
	r.SealedBatches += o.SealedBatches
	r.SealedEntries += o.SealedEntries
	r.UnsealedEntries += o.UnsealedEntries
	r.RevenueRollups += o.RevenueRollups
	r.MonthlyRollups += o.MonthlyRollups
	r.Checkpoints += o.Checkpoints
	for _, f := range o.Findings {
		if len(r.Findings) < maxFindings {
			r.Findings = append(r.Findings, f)
		}
	}
}

// maxFindings bounds the report; the first one is what matters.
const maxFindings = 20

// DefaultVerifyConcurrency is how many of Verify's steps run at once, each
// on a connection of its own.
const DefaultVerifyConcurrency = 3

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Concurrency is how many steps run at once, each on its own
	// connection in the same snapshot (0: DefaultVerifyConcurrency; never
	// more than the pool's connections; 1: all in one transaction).
	Concurrency int

	exported func() // tests: called once the leader's snapshot is taken, before any step
}

// Verify is VerifyWith and the default options.
func Verify(ctx context.Context, pool *pgxpool.Pool) (Report, error) {
	return VerifyWith(ctx, pool, VerifyOptions{})
}

// VerifyWith proves the ledger's invariants from the rows themselves, in
// one read-only REPEATABLE READ snapshot (posting may go on meanwhile):
//
//   - every entry has two or more postings that balance per currency, and its
//     rows still match the content hash recorded with it;
//   - the seal chain is unbroken: batches numbered from 1, each prev_hash the
//     previous batch's hash, each hash recomputed from its entries;
//   - every posting belongs to an entry, carries its entry's xid and effective
//     time, and names an existing account in that account's currency;
//   - entries and ledger_entry_keys (which holds the entries' unique keys,
//     migration 00034) match one to one: id, idempotency key, effective
//     time, entry reversed;
//   - every account's kind follows from its code;
//   - all postings sum to zero per currency (the trial balance);
//   - every stored balance snapshot equals the sum of the postings it covers;
//   - the revenue rollups (daily and monthly) and the daily balance
//     checkpoints are exactly what the postings below their horizon sum to:
//     no row missing, none extra, none different (rollup.go).
//
// The checks are independent reads, so they run concurrently
// (o.Concurrency at once), each on its own connection in a REPEATABLE READ
// READ ONLY transaction that imports the snapshot of a leading one
// (pg_export_snapshot, SET TRANSACTION SNAPSHOT): every check sees the same
// rows, as if they ran one after the other in one transaction. The leader
// runs checks too and stays open until the last one is done. Findings are
// listed in the steps' order, whichever finished first.
//
// It returns an error wrapping ErrBroken, naming the first broken thing, when
// the report has findings, and a plain error if it could not run.
func VerifyWith(ctx context.Context, pool *pgxpool.Pool, o VerifyOptions) (Report, error) {
	n := o.Concurrency
	if n <= 0 {
		n = DefaultVerifyConcurrency
	}
	steps := verifySteps()
	n = min(n, int(pool.Config().MaxConns), len(steps))
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Report{}, fmt.Errorf("ledger: verify: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The first query fixes the snapshot; the rollups' horizon is read in it
	// for the steps that need it.
	var horizon int64
	if err := tx.QueryRow(ctx, `SELECT (SELECT up_to_xid FROM ledger_rollup_horizon)`).Scan(&horizon); err != nil {
		return Report{}, fmt.Errorf("ledger: verify: rollup horizon: %w", err)
	}
	var snapshot string
	if n > 1 {
		if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
			return Report{}, fmt.Errorf("ledger: verify: export snapshot: %w", err)
		}
	}
	if o.exported != nil {
		o.exported()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The steps go out longest first (their order in verifySteps); each
	// keeps its own report and error, merged in the steps' order below.
	type result struct {
		r   Report
		err error
		d   time.Duration
	}
	results := make([]result, len(steps))
	next := make(chan int, len(steps))
	for _, k := range verifyOrder(steps) {
		next <- k
	}
	close(next)
	work := func(q pgx.Tx) {
		for k := range next {
			if ctx.Err() != nil {
				results[k].err = ctx.Err()
				continue
			}
			v := &verifier{tx: q, horizon: horizon, pool: pool, snapshot: snapshot}
			start := time.Now()
			err := steps[k].run(v, ctx)
			results[k] = result{r: v.r, err: err, d: time.Since(start)}
			if err != nil {
				cancel()
			}
		}
	}
	var wg sync.WaitGroup
	followerErr := make([]error, n)
	for w := 1; w < n; w++ {
		wg.Go(func() {
			err := follow(ctx, pool, snapshot, work)
			if err != nil {
				followerErr[w] = err
				cancel()
			}
		})
	}
	work(tx)
	wg.Wait()
	r := Report{RollupHorizon: horizon}
	for k, s := range steps {
		if err := results[k].err; err != nil && !errors.Is(err, context.Canceled) {
			return r, fmt.Errorf("ledger: verify %s: %w", s.name, err)
		}
	}
	if err := errors.Join(followerErr...); err != nil {
		return r, fmt.Errorf("ledger: verify: %w", err)
	}
	for k, s := range steps {
		if err := results[k].err; err != nil { // canceled from outside
			return r, fmt.Errorf("ledger: verify %s: %w", s.name, err)
		}
		r.add(results[k].r)
		r.Steps = append(r.Steps, VerifyStep{Name: s.name, Duration: results[k].d})
	}
	if !r.OK() {
		return r, fmt.Errorf("%w: %s", ErrBroken, r.Findings[0])
	}
	return r, nil
}

// snapshotID is what pg_export_snapshot returns (e.g. 00000003-0000001B-1),
// checked before it is spliced into SET TRANSACTION SNAPSHOT (which takes
// no parameters).
var snapshotID = regexp.MustCompile(`^[0-9A-Fa-f-]+$`)

// follow runs work in a REPEATABLE READ READ ONLY transaction of its own
// connection that imports the leader's snapshot.
func follow(ctx context.Context, pool *pgxpool.Pool, snapshot string, work func(pgx.Tx)) error {
	if !snapshotID.MatchString(snapshot) {
		return fmt.Errorf("snapshot id %q", snapshot)
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin follower: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+snapshot+`'`); err != nil {
		return fmt.Errorf("import snapshot: %w", err)
	}
	work(tx)
	return nil
}

// verifyStep is one of Verify's checks.
type verifyStep struct {
	name string
	run  func(*verifier, context.Context) error
	cost int // its share of the work, roughly: the costliest go out first
}

// verifySteps are the checks in the order their findings are listed.
func verifySteps() []verifyStep {
	return []verifyStep{
		{"entries and seals", (*verifier).entriesAndSeals, 100},
		{"postings", (*verifier).postings, 30},
		{"entry keys", (*verifier).keys, 20},
		{"accounts", (*verifier).accounts, 0},
		{"trial balance", (*verifier).trialBalance, 10},
		{"snapshots", (*verifier).snapshots, 5},
		{"revenue rollups", (*verifier).revenueRollups, 30},
		{"balance checkpoints", (*verifier).checkpoints, 20},
	}
}

// verifyOrder is the order in which steps are started: costliest first.
func verifyOrder(steps []verifyStep) []int {
	order := make([]int, len(steps))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return steps[b].cost - steps[a].cost })
	return order
}

type verifier struct {
	tx       pgx.Tx
	horizon  int64 // the rollups' horizon, read by the leader
	r        Report
	pool     *pgxpool.Pool
	snapshot string // the leader's exported snapshot; "" when all runs in one transaction
}

func (v *verifier) find(check, subject, format string, args ...any) {
	if len(v.r.Findings) < maxFindings {
		v.r.Findings = append(v.r.Findings, Finding{Check: check, Subject: subject, Detail: fmt.Sprintf(format, args...)})
	}
}

type storedSeal struct {
	no, lastXID, lastID int64
	count               int
	prev, hash          []byte
}

// entriesAndSeals checks every entry once and recomputes the seal batches
// they fall in, walking the entries in chain order (xid, id).
//
// Sorting every posting with its entry's columns into chain order costs the
// server an external sort of the whole ledger; reading them in id order
// costs none (a merge join of the entries' and the postings' primary keys,
// each partition's index in order). So two cursors are read side by side:
// the chain order, narrow (xid and id, from the entries' xid index), and the
// entries with their postings in id order, each checked and its seal hash
// computed as it comes, then held until the chain reaches it. Chain order
// and id order mostly agree (ids are taken as transactions go, xids as they
// begin): what is held is the entries of transactions that overlapped, not
// the ledger. The findings are made in chain order, as if the entries had
// been read in it.
func (v *verifier) entriesAndSeals(ctx context.Context) error {
	rows, err := v.tx.Query(ctx, `SELECT batch_no, last_xid, last_entry_id, entry_count, prev_hash, hash FROM ledger_seals ORDER BY batch_no`)
	if err != nil {
		return err
	}
	seals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedSeal, error) {
		var s storedSeal
		return s, r.Scan(&s.no, &s.lastXID, &s.lastID, &s.count, &s.prev, &s.hash)
	})
	if err != nil {
		return err
	}
	c := &chainCheck{v: v, seals: seals}
	c.open()
	// The chain order comes from a connection of its own in the same
	// snapshot when there is one to share, else from a cursor beside the
	// entries' on this one.
	var chain chainSource
	entries := &entryCursor{}
	if v.snapshot != "" {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s := &chainStream{c: make(chan chainBatch, 4)}
		go s.run(ctx, v.pool, v.snapshot)
		defer func() {
			cancel()
			for range s.c { // until it has let its connection go
			}
		}()
		chain = s
		rows, err := v.tx.Query(ctx, entrySelect+entryOrder)
		if err != nil {
			return err
		}
		defer rows.Close()
		entries.fill = func(context.Context) (pgx.Rows, error) { return rows, nil }
	} else {
		for _, q := range []string{
			`DECLARE verify_chain NO SCROLL CURSOR FOR ` + chainSQL,
			`DECLARE verify_entries NO SCROLL CURSOR FOR ` + entrySelect + entryOrder,
		} {
			if _, err := v.tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		chain = &chainCursor{tx: v.tx}
		entries.fill = func(ctx context.Context) (pgx.Rows, error) {
			return v.tx.Query(ctx, fmt.Sprintf(`FETCH %d FROM verify_entries`, verifyFetch))
		}
		entries.fetches = true
	}
	held := map[chainPos]checkedEntry{}
	// read reads the next entry in id order, checks it and holds it.
	read := func() (bool, error) {
		e, ok, err := entries.next(ctx)
		if !ok || err != nil {
			return false, err
		}
		content := contentHash(asNew(e.Entry), e.Reverses)
		held[chainPos{e.xid, e.ID}] = checkedEntry{postings: len(e.Postings), problem: checkEntryWith(e, content),
			seal: sealHashWith(e, content)}
		return true, nil
	}
	var last chainPos
	for {
		pos, ok, err := chain.next(ctx)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if pos == last { // two entries in one place: read as one, as in chain order
			continue
		}
		last = pos
		e, found := held[pos]
		for !found {
			more, err := read()
			if err != nil {
				return err
			}
			if !more {
				return fmt.Errorf("entry %d (xid %d) is in the chain order but not among the entries", pos.id, pos.xid)
			}
			e, found = held[pos]
		}
		delete(held, pos)
		v.r.Entries++
		v.r.Postings += int64(e.postings)
		if e.problem != "" {
			v.find("entry", fmt.Sprintf("entry %d", pos.id), "%s", e.problem)
		}
		c.add(pos.xid, pos.id, e.seal)
	}
	if more, err := read(); more || err != nil || len(held) > 0 {
		return fmt.Errorf("entries not in the chain order (%d held, more %v): %w", len(held), more, err)
	}
	for c.i < len(seals) { // batches whose entries are gone
		c.close()
	}
	return nil
}

// chainPos is an entry's place in the chain.
type chainPos struct{ xid, id int64 }

// checkedEntry is what entriesAndSeals keeps of an entry until the chain
// reaches it.
type checkedEntry struct {
	postings int
	problem  string
	seal     []byte
}

// verifyFetch is how many rows a FETCH from Verify's cursors reads.
const verifyFetch = 20_000

// chainSQL is the chain order; entryOrder the entries' (entrySelect's) order
// that entriesAndSeals reads them in.
const (
	chainSQL   = `SELECT xid, id FROM ledger_entries ORDER BY xid, id`
	entryOrder = ` ORDER BY e.id, e.xid, p.leg`
)

// chainSource gives the entries' places in chain order.
type chainSource interface {
	next(ctx context.Context) (chainPos, bool, error)
}

// chainBatch is some places in chain order, or the error that ended them.
type chainBatch struct {
	pos []chainPos
	err error
}

// chainStream reads the chain order on a connection of its own, in the
// leader's snapshot, some batches ahead of who takes them.
type chainStream struct {
	c   chan chainBatch
	buf []chainPos
	end bool
}

func (s *chainStream) run(ctx context.Context, pool *pgxpool.Pool, snapshot string) {
	defer close(s.c)
	err := follow(ctx, pool, snapshot, func(tx pgx.Tx) {
		rows, err := tx.Query(ctx, chainSQL)
		if err != nil {
			s.c <- chainBatch{err: err}
			return
		}
		defer rows.Close()
		b := make([]chainPos, 0, verifyFetch)
		var p chainPos
		for rows.Next() {
			if err := rows.Scan(&p.xid, &p.id); err != nil {
				s.c <- chainBatch{err: err}
				return
			}
			if b = append(b, p); len(b) == verifyFetch {
				select {
				case s.c <- chainBatch{pos: b}:
				case <-ctx.Done():
					return
				}
				b = make([]chainPos, 0, verifyFetch)
			}
		}
		if err := rows.Err(); err != nil {
			s.c <- chainBatch{err: err}
			return
		}
		s.c <- chainBatch{pos: b}
	})
	if err != nil {
		s.c <- chainBatch{err: err}
	}
}

func (s *chainStream) next(ctx context.Context) (chainPos, bool, error) {
	for len(s.buf) == 0 {
		if s.end {
			return chainPos{}, false, nil
		}
		var b chainBatch
		var ok bool
		select {
		case b, ok = <-s.c:
		case <-ctx.Done():
			return chainPos{}, false, ctx.Err()
		}
		if !ok {
			s.end = true
			continue
		}
		if b.err != nil {
			return chainPos{}, false, fmt.Errorf("read chain order: %w", b.err)
		}
		s.buf = b.pos
	}
	p := s.buf[0]
	s.buf = s.buf[1:]
	return p, true, nil
}

// chainCursor reads the cursor verify_chain: entries' (xid, id) in chain order.
type chainCursor struct {
	tx   pgx.Tx
	buf  []chainPos
	done bool
}

func (c *chainCursor) next(ctx context.Context) (chainPos, bool, error) {
	if len(c.buf) == 0 && !c.done {
		rows, err := c.tx.Query(ctx, fmt.Sprintf(`FETCH %d FROM verify_chain`, verifyFetch))
		if err != nil {
			return chainPos{}, false, err
		}
		var p chainPos
		c.buf, err = pgx.AppendRows(c.buf[:0], rows, func(r pgx.CollectableRow) (chainPos, error) {
			return p, r.Scan(&p.xid, &p.id)
		})
		if err != nil {
			return chainPos{}, false, fmt.Errorf("read chain order: %w", err)
		}
		c.done = len(c.buf) < verifyFetch
	}
	if len(c.buf) == 0 {
		return chainPos{}, false, nil
	}
	p := c.buf[0]
	c.buf = c.buf[1:]
	return p, true, nil
}

// entryRow is one row of entrySelect.
type entryRow struct {
	e   storedEntry
	leg int16
	p   Posting
}

// entryCursor reads entrySelect in entryOrder, an entry with its postings at
// a time: from one query's rows, or FETCH after FETCH from a cursor.
type entryCursor struct {
	fill    func(context.Context) (pgx.Rows, error) // the rows: the query's, or the next FETCH's
	fetches bool                                    // fill FETCHes
	rows    pgx.Rows
	buf     []entryRow
	at      int
	done    bool
}

// row returns the next row without taking it.
func (c *entryCursor) row(ctx context.Context) (*entryRow, error) {
	if c.at == len(c.buf) && !c.done {
		if c.rows == nil {
			rows, err := c.fill(ctx)
			if err != nil {
				return nil, err
			}
			c.rows = rows
		}
		c.buf, c.at = c.buf[:0], 0
		for len(c.buf) < verifyFetch && c.rows.Next() {
			var r entryRow
			e := &r.e
			if err := c.rows.Scan(&e.ID, &e.Key, &e.Kind, &e.Reference, &e.Description, &e.RecordedBy,
				&e.Reverses, &e.EffectiveAt, &e.RecordedAt, &e.xid, &e.storedHash,
				&r.leg, &r.p.Account, &r.p.Currency, &r.p.Direction, &r.p.Amount, &r.p.ServiceCode, &r.p.Channel); err != nil {
				c.rows.Close()
				return nil, fmt.Errorf("scan entry: %w", err)
			}
			c.buf = append(c.buf, r)
		}
		if len(c.buf) < verifyFetch || c.fetches {
			c.rows.Close()
			if err := c.rows.Err(); err != nil {
				return nil, fmt.Errorf("read entries: %w", err)
			}
			c.rows = nil
			c.done = len(c.buf) < verifyFetch
		}
	}
	if c.at == len(c.buf) {
		return nil, nil
	}
	return &c.buf[c.at], nil
}

// next returns the next entry with its postings (the rows of one id and
// xid), as eachEntry would.
func (c *entryCursor) next(ctx context.Context) (storedEntry, bool, error) {
	r, err := c.row(ctx)
	if r == nil || err != nil {
		return storedEntry{}, false, err
	}
	e := r.e
	e.EffectiveAt, e.RecordedAt = e.EffectiveAt.UTC(), e.RecordedAt.UTC()
	for r != nil && r.e.ID == e.ID && r.e.xid == e.xid {
		if r.leg > 0 {
			e.Postings = append(e.Postings, r.p)
		}
		c.at++
		if r, err = c.row(ctx); err != nil {
			return storedEntry{}, false, err
		}
	}
	return e, true, nil
}

// chainCheck recomputes seal batches as entries stream past in chain order.
type chainCheck struct {
	v     *verifier
	seals []storedSeal
	i     int    // the batch being recomputed
	cur   *batch // its hash so far
}

func (c *chainCheck) open() {
	if c.i < len(c.seals) {
		s := c.seals[c.i]
		c.cur = newBatch(s.no, s.prev)
	}
}

// add adds the entry at (xid, id) whose seal hash is seal.
func (c *chainCheck) add(xid, id int64, seal []byte) {
	for c.i < len(c.seals) && after(xid, id, c.seals[c.i].lastXID, c.seals[c.i].lastID) {
		c.close() // the batch's last entry never came: it was deleted or moved
	}
	if c.i == len(c.seals) {
		c.v.r.UnsealedEntries++
		return
	}
	c.cur.addSealed(xid, id, seal)
	c.v.r.SealedEntries++
	if s := c.seals[c.i]; xid == s.lastXID && id == s.lastID {
		c.close()
	}
}

// close compares the recomputed batch with the stored one and opens the next.
func (c *chainCheck) close() {
	s := c.seals[c.i]
	subject := fmt.Sprintf("seal batch %d", s.no)
	wantPrev := genesis
	if c.i > 0 {
		wantPrev = c.seals[c.i-1].hash
	}
	switch {
	case s.no != int64(c.i+1):
		c.v.find("seal", subject, "batch number %d is out of sequence (expected %d)", s.no, c.i+1)
	case !bytes.Equal(s.prev, wantPrev):
		c.v.find("seal", subject, "prev_hash does not match the previous batch's hash: the chain is broken")
	case c.cur.count != s.count:
		c.v.find("seal", subject, "sealed %d entries, %d found in its range", s.count, c.cur.count)
	case !bytes.Equal(c.cur.sum(), s.hash):
		c.v.find("seal", subject, "hash does not match its entries (ending at entry %d): sealed rows were changed", s.lastID)
	}
	c.v.r.SealedBatches++
	c.i++
	c.open()
}

// after says whether (xid, id) comes after (lastXID, lastID) in chain order.
func after(xid, id, lastXID, lastID int64) bool {
	return xid > lastXID || xid == lastXID && id > lastID
}

// each runs query and calls found after scanning each row into dest.
func (v *verifier) each(ctx context.Context, query string, dest []any, found func(), args ...any) error {
	rows, err := v.tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, dest, func() error {
		found()
		return nil
	})
	return err
}

// postings finds postings without an entry, out of step with their entry, or
// on an account that does not exist in their currency.
//
// The findings are gathered in a MATERIALIZED CTE and only then sorted and
// limited: planned under the LIMIT, the join took the filter for one that
// most rows pass and read every posting through its index in entry order,
// in step with the entries', to stop early — and as none passes it read
// them all so, page by page. Alone the two plans take about as long (25–28
// s at 21M postings, cold); beside the other steps of Verify the index
// order took 6m36s, the CTE's scans and hash joins 1m26s.
func (v *verifier) postings(ctx context.Context) error {
	var entry int64
	var leg int16
	var detail string
	return v.each(ctx, `
		WITH found AS MATERIALIZED (
			SELECT p.entry_id, p.leg, CASE
				WHEN e.id IS NULL THEN 'belongs to no entry'
				WHEN p.xid <> e.xid OR p.effective_at <> e.effective_at THEN 'differs from its entry in xid or effective time'
				ELSE 'names account ' || p.account_code || ' in ' || p.currency || ', which does not exist'
			END AS detail
			FROM ledger_postings p
			LEFT JOIN ledger_entries e ON e.id = p.entry_id
			LEFT JOIN ledger_accounts a ON a.code = p.account_code AND a.currency = p.currency
			WHERE e.id IS NULL OR p.xid <> e.xid OR p.effective_at <> e.effective_at OR a.code IS NULL
		)
		SELECT entry_id, leg, detail FROM found ORDER BY entry_id, leg LIMIT $1`, []any{&entry, &leg, &detail}, func() {
		v.find("posting", fmt.Sprintf("entry %d posting %d", entry, leg), "%s", detail)
	}, maxFindings)
}

// keys finds entries without their row in ledger_entry_keys (or differing
// from it), and key rows without their entry.
func (v *verifier) keys(ctx context.Context) error {
	var entry int64
	var detail string
	return v.each(ctx, `
		SELECT coalesce(e.id, k.entry_id), CASE
			WHEN k.entry_id IS NULL THEN 'has no row in ledger_entry_keys'
			WHEN e.id IS NULL THEN 'has a row in ledger_entry_keys (key ' || k.idempotency_key || ') but no entry'
			ELSE 'differs from its row in ledger_entry_keys in key, effective time or entry reversed'
		END
		FROM ledger_entries e FULL JOIN ledger_entry_keys k ON k.entry_id = e.id
		WHERE e.id IS NULL OR k.entry_id IS NULL OR k.idempotency_key <> e.idempotency_key
			OR k.effective_at <> e.effective_at OR k.reverses IS DISTINCT FROM e.reverses
		ORDER BY 1 LIMIT $1`, []any{&entry, &detail}, func() {
		v.find("entry", fmt.Sprintf("entry %d", entry), "%s", detail)
	}, maxFindings)
}

// accounts checks each account's kind against the chart and its currency.
func (v *verifier) accounts(ctx context.Context) error {
	var code, kind, currency string
	return v.each(ctx, `SELECT code, kind, currency FROM ledger_accounts ORDER BY code`, []any{&code, &kind, &currency}, func() {
		v.r.Accounts++
		want, err := KindOf(code)
		switch {
		case err != nil:
			v.find("account", "account "+code, "%v", err)
		case AccountKind(kind) != want:
			v.find("account", "account "+code, "kind is %s, the chart says %s", kind, want)
		case checkCurrency("currency", currency) != nil:
			v.find("account", "account "+code, "unsupported currency %q", currency)
		}
	})
}

// trialBalance: all postings sum to zero in every currency.
func (v *verifier) trialBalance(ctx context.Context) error {
	var currency, sum string
	return v.each(ctx, `SELECT currency, sum(net)::text FROM ledger_postings GROUP BY currency HAVING sum(net) <> 0 ORDER BY currency`,
		[]any{&currency, &sum}, func() {
			v.find("trial_balance", "currency "+currency, "all postings sum to %s, not 0", sum)
		})
}

// snapshots: each stored snapshot equals the postings below its horizon. The
// sums are computed per interval between an account's snapshots and
// accumulated, so the check reads each posting once.
func (v *verifier) snapshots(ctx context.Context) error {
	if err := v.tx.QueryRow(ctx, `SELECT count(*) FROM ledger_balance_snapshots`).Scan(&v.r.Snapshots); err != nil {
		return err
	}
	var code, net, want string
	var xid, n, wantN int64
	return v.each(ctx, `
		WITH s AS (
			SELECT account_code, up_to_xid, net, postings,
				lag(up_to_xid, 1, 0::bigint) OVER (PARTITION BY account_code ORDER BY up_to_xid) AS from_xid
			FROM ledger_balance_snapshots
		), d AS (
			SELECT s.*, t.net AS dnet, t.n AS dn FROM s CROSS JOIN LATERAL (
				SELECT coalesce(sum(p.net), 0) AS net, count(*) AS n FROM ledger_postings p
				WHERE p.account_code = s.account_code AND p.xid >= s.from_xid AND p.xid < s.up_to_xid) t
		), c AS (
			SELECT account_code, up_to_xid, net, postings,
				sum(dnet) OVER w AS want_net, sum(dn) OVER w AS want_n
			FROM d WINDOW w AS (PARTITION BY account_code ORDER BY up_to_xid)
		)
		SELECT account_code, up_to_xid, net::text, want_net::text, postings, want_n FROM c
		WHERE net <> want_net OR postings <> want_n
		ORDER BY account_code, up_to_xid LIMIT $1`, []any{&code, &xid, &net, &want, &n, &wantN}, func() {
		v.find("snapshot", "account "+code, "snapshot below xid %d says %s over %d postings; the postings sum to %s over %d", xid, net, n, want, wantN)
	}, maxFindings)
}

// revenueRollups recomputes the daily and monthly revenue rollups from the
// postings below their horizon and compares them row by row.
func (v *verifier) revenueRollups(ctx context.Context) error {
	if err := v.tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_revenue_rollups), (SELECT count(*) FROM ledger_revenue_rollups_monthly)`).
		Scan(&v.r.RevenueRollups, &v.r.MonthlyRollups); err != nil {
		return err
	}
	for _, t := range revenueRollups {
		var key, got, want string
		err := v.each(ctx, `
			WITH w (`+t.key+`, agency, service, channel, currency, gross, refunds, adjustments, net, postings) AS (
				SELECT `+t.keySQL+`, split_part(p.account_code, ':', 2), p.service_code, p.channel, p.currency, `+revenueSumsSQL+`
				FROM ledger_postings p
				WHERE p.xid < $1 AND p.service_code IS NOT NULL AND p.account_code LIKE 'agency:%:collected'
				GROUP BY 1, 2, 3, 4, 5
			)
			SELECT concat_ws(' ', `+t.key+`, agency, service, channel, currency),
				CASE WHEN r.`+t.key+` IS NULL THEN 'no row' ELSE format('gross %s, refunds %s, adjustments %s, net %s over %s postings',
					r.gross, r.refunds, r.adjustments, r.net, r.postings) END,
				CASE WHEN w.`+t.key+` IS NULL THEN 'no postings' ELSE format('gross %s, refunds %s, adjustments %s, net %s over %s postings',
					w.gross, w.refunds, w.adjustments, w.net, w.postings) END
			FROM `+t.table+` r FULL JOIN w USING (`+t.key+`, agency, service, channel, currency)
			WHERE (r.gross, r.refunds, r.adjustments, r.net, r.postings) IS DISTINCT FROM (w.gross, w.refunds, w.adjustments, w.net, w.postings)
			ORDER BY `+t.key+`, agency, service, channel, currency LIMIT $2`, []any{&key, &got, &want}, func() {
			v.find("rollup", "revenue "+t.key+" "+key, "the rollup says %s; the postings below xid %d sum to %s", got, v.horizon, want)
		}, v.horizon, maxFindings)
		if err != nil {
			return err
		}
	}
	// The rollups without the channel (00039) are their sums over channels.
	for _, t := range []struct{ table, of, key string }{
		{"ledger_revenue_rollups_service", "ledger_revenue_rollups", "day"},
		{"ledger_revenue_rollups_service_monthly", "ledger_revenue_rollups_monthly", "month"},
	} {
		var key, got, want string
		err := v.each(ctx, `
			WITH w AS (
				SELECT `+t.key+`, agency, service, currency, sum(gross) AS gross, sum(refunds) AS refunds,
					sum(adjustments) AS adjustments, sum(net) AS net, sum(postings) AS postings
				FROM `+t.of+` GROUP BY 1, 2, 3, 4
			)
			SELECT concat_ws(' ', `+t.key+`, agency, service, currency),
				CASE WHEN r.`+t.key+` IS NULL THEN 'no row' ELSE format('gross %s, refunds %s, adjustments %s, net %s over %s postings',
					r.gross, r.refunds, r.adjustments, r.net, r.postings) END,
				CASE WHEN w.`+t.key+` IS NULL THEN 'no row' ELSE format('gross %s, refunds %s, adjustments %s, net %s over %s postings',
					w.gross, w.refunds, w.adjustments, w.net, w.postings) END
			FROM `+t.table+` r FULL JOIN w USING (`+t.key+`, agency, service, currency)
			WHERE (r.gross, r.refunds, r.adjustments, r.net, r.postings) IS DISTINCT FROM (w.gross, w.refunds, w.adjustments, w.net, w.postings)
				AND $1::bigint IS NOT NULL
			ORDER BY `+t.key+`, agency, service, currency LIMIT $2`, []any{&key, &got, &want}, func() {
			v.find("rollup", "revenue by service "+t.key+" "+key, "the rollup says %s; %s sums to %s", got, t.of, want)
		}, v.horizon, maxFindings)
		if err != nil {
			return err
		}
	}
	return nil
}

// checkpoints recomputes every account's daily balance checkpoints from the
// postings below their horizon and compares them row by row.
func (v *verifier) checkpoints(ctx context.Context) error {
	if err := v.tx.QueryRow(ctx, `SELECT count(*) FROM ledger_balance_checkpoints`).Scan(&v.r.Checkpoints); err != nil {
		return err
	}
	var code, day, got, want string
	return v.each(ctx, `
		WITH w AS (
			SELECT account_code, day, sum(sum(net)) OVER d AS net, sum(count(*)) OVER d AS postings
			FROM (SELECT p.account_code, `+bizDaySQL+` AS day, p.net FROM ledger_postings p WHERE p.xid < $1) x
			GROUP BY account_code, day
			WINDOW d AS (PARTITION BY account_code ORDER BY day)
		)
		SELECT account_code, day::text,
			CASE WHEN c.day IS NULL THEN 'no checkpoint' ELSE format('%s over %s postings', c.net, c.postings) END,
			CASE WHEN w.day IS NULL THEN 'no postings that day' ELSE format('%s over %s postings', w.net, w.postings) END
		FROM ledger_balance_checkpoints c FULL JOIN w USING (account_code, day)
		WHERE (c.net, c.postings) IS DISTINCT FROM (w.net, w.postings)
		ORDER BY account_code, day LIMIT $2`, []any{&code, &day, &got, &want}, func() {
		v.find("checkpoint", "account "+code, "the checkpoint of %s says %s; the postings below xid %d up to that day sum to %s", day, got, v.horizon, want)
	}, v.horizon, maxFindings)
}
