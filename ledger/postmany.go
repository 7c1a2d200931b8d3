package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// PostMany records several entries in one statement, each exactly as Post
// would: accounts created on first use, idempotent by key (an existing key
// with the same content returns the original entry, with other content
// ErrIdempotencyConflict), balance checked here and again at commit. It
// returns the entries in the order given. Two entries with one key in the
// same call are refused. On a pool the statement is atomic on its own; in a
// transaction, a failure leaves the transaction failed, like Post's.
//
// It is for callers that record many business changes in one transaction
// (the payment flow's group commit): one statement instead of one per entry.
func PostMany(ctx context.Context, db DBTX, es []NewEntry) ([]Entry, error) {
	out, _, err := postEntries(ctx, db, es, nil)
	return out, err
}

// postMany records es (reversing, when not nil, gives for each the entry it
// mirrors, else 0) and reports for each whether this call created it (false:
// a replay).
func postEntries(ctx context.Context, db DBTX, es []NewEntry, reversing []int64) ([]Entry, []bool, error) {
	if len(es) == 0 {
		return nil, nil, nil
	}
	var (
		keys, kinds, refs, descs, bys []string
		reverses                      []int64
		effective                     []time.Time
		hashes                        [][]byte
		pKeys, pAccounts, pCur, pDirs []string
		pSvcs, pChans                 []string
		pLegs                         []int16
		pAmounts                      []decimal.Decimal
		currencyOf                    = map[string]string{}
		out                           = make([]Entry, len(es))
		seen                          = make(map[string]int, len(es))
	)
	norm := make([]NewEntry, len(es))
	revs := make([]int64, len(es))
	for i, e := range es {
		if reversing != nil {
			revs[i] = reversing[i]
		}
		e, err := normalize(e, revs[i] != 0)
		if err != nil {
			return nil, nil, err
		}
		norm[i] = e
	}
	asked := append([]NewEntry(nil), norm...)
	if err := intoOpenDays(ctx, db, norm); err != nil {
		return nil, nil, err
	}
	for i, e := range norm {
		rev := revs[i]
		if j, dup := seen[e.Key]; dup {
			return nil, nil, invalid("key", "entries %d and %d of one call share the key %q", j, i, e.Key)
		}
		seen[e.Key] = i
		hash := contentHash(e, rev)
		keys, kinds, refs, descs, bys = append(keys, e.Key), append(kinds, string(e.Kind)), append(refs, e.Reference),
			append(descs, e.Description), append(bys, e.RecordedBy)
		reverses, effective, hashes = append(reverses, rev), append(effective, e.EffectiveAt), append(hashes, hash)
		for leg, p := range e.Postings {
			currencyOf[p.Account] = p.Currency
			pKeys, pLegs, pAccounts, pCur = append(pKeys, e.Key), append(pLegs, int16(leg+1)), append(pAccounts, p.Account), append(pCur, p.Currency)
			pDirs, pAmounts = append(pDirs, string(p.Direction)), append(pAmounts, p.Amount)
			pSvcs, pChans = append(pSvcs, p.ServiceCode), append(pChans, p.Channel)
		}
		out[i] = Entry{Key: e.Key, Kind: e.Kind, Reference: e.Reference, Description: e.Description,
			RecordedBy: e.RecordedBy, Reverses: rev, EffectiveAt: e.EffectiveAt, Postings: e.Postings}
	}
	codes := sortedKeys(currencyOf)
	accKinds, accCur := make([]string, len(codes)), make([]string, len(codes))
	for i, code := range codes {
		kind, _ := KindOf(code) // validated by normalize
		accKinds[i], accCur[i] = string(kind), currencyOf[code]
	}
	rows, err := db.Query(ctx, postManySQL, codes, accKinds, accCur,
		keys, kinds, refs, descs, bys, reverses, effective, hashes,
		pKeys, pLegs, pAccounts, pCur, pDirs, pAmounts, pSvcs, pChans)
	if err != nil {
		return nil, nil, postError(keys[0], err)
	}
	recorded := make([]bool, len(es))
	for rows.Next() {
		var key string
		var id int64
		var at time.Time
		if err := rows.Scan(&key, &id, &at); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("ledger: post: %w", err)
		}
		i := seen[key]
		out[i].ID, out[i].RecordedAt, recorded[i] = id, at.UTC(), true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, postError(keys[0], err)
	}
	for i := range es {
		if recorded[i] {
			continue
		}
		replayed, err := replay(ctx, db, keys[i], hashes[i], asked[i], revs[i])
		if err != nil {
			return nil, nil, err
		}
		out[i] = replayed
	}
	return out, recorded, nil
}

// postManySQL upserts the accounts, inserts each entry unless its key exists
// (the key row first, then the entry), and inserts the postings of the
// entries it inserted (each finds its entry by key): one round trip, one
// statement. It returns no row for a replayed key.
// An account that exists in another currency is left alone here and refused
// by the postings' stamp trigger. Accounts come in code order, so two
// transactions creating the same new accounts wait for each other instead of
// deadlocking.
const postManySQL = `
WITH accounts AS (
	INSERT INTO ledger_accounts (code, kind, currency)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
	ON CONFLICT DO NOTHING
	RETURNING code
), input AS (
	SELECT * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::timestamptz[], $11::bytea[])
		AS t(k, kd, r, d, b, rv, ef, h)
), keys AS (
	-- ledger_entries is partitioned by effective_at (migration 00034) and can
	-- hold no global unique key: ledger_entry_keys holds the idempotency key
	-- (the arbiter here), the id, taken from the entries' identity, and the
	-- entry reversed (unique there: reversed at most once).
	INSERT INTO ledger_entry_keys (idempotency_key, entry_id, effective_at, reverses)
	SELECT k, nextval(pg_get_serial_sequence('ledger_entries', 'id')), ef, NULLIF(rv, 0) FROM input
	ON CONFLICT (idempotency_key) DO NOTHING
	RETURNING idempotency_key, entry_id
), entry AS (
	INSERT INTO ledger_entries (id, idempotency_key, kind, reference, description, recorded_by, reverses, effective_at, content_hash)
	OVERRIDING SYSTEM VALUE
	SELECT keys.entry_id, k, kd, r, d, b, NULLIF(rv, 0), ef, h
	FROM input JOIN keys ON keys.idempotency_key = input.k
	RETURNING id, idempotency_key, recorded_at, effective_at
), postings AS (
	-- effective_at is the postings' partition key (migration 00034): the
	-- insert carries their entry's, which the stamp trigger checks.
	INSERT INTO ledger_postings (entry_id, leg, account_code, currency, direction, amount, service_code, channel, effective_at)
	SELECT entry.id, p.leg, p.account, p.currency, p.direction, p.amount, NULLIF(p.service, ''), NULLIF(p.channel, ''),
		entry.effective_at
	FROM unnest($12::text[], $13::smallint[], $14::text[], $15::text[], $16::text[], $17::numeric[], $18::text[], $19::text[])
		AS p (key, leg, account, currency, direction, amount, service, channel)
	JOIN entry ON entry.idempotency_key = p.key
	-- Always true: it makes the account upsert run first, so the postings'
	-- stamp trigger finds new accounts (an unreferenced CTE runs last).
	WHERE (SELECT count(*) FROM accounts) >= 0
)
SELECT idempotency_key, id, recorded_at FROM entry`
