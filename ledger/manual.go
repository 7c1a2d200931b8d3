package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/db"
)

// Manual entries and reversals, which people post through the API, follow
// rules the posting rules do not need:
//
//   - Four eyes: one that touches an agency account (agency:…) or moves more
//     than ApprovalAmount is not posted at once. It waits as a request until
//     a second, different treasury key approves it (or anyone rejects it).
//   - Attribution: a manual entry carries revenue attribution (service and
//     channel on an agency collected account) only when marked as an
//     adjustment; its channel is then AdjustmentChannel and revenue shows it
//     as an adjustment, never as gross or refunds.
//   - Dating: its effective time is neither in the future (beyond a small
//     clock skew), nor more than MaxBackdate ago, nor on or before the last
//     closed business day. A reversal that names no time takes the
//     original's when that is allowed, else now.

// ManualRules configures manual entries. They have no defaults of their own
// (internal/app/config has the service's); the zero value is the strictest:
// every entry with a debit needs a second approver, and none may be backdated.
type ManualRules struct {
	// ApprovalAmount: a manual entry whose debits in VND exceed it needs a
	// second approver (one in any other currency always does).
	ApprovalAmount decimal.Decimal
	// MaxBackdate is how far in the past a manual entry may take effect.
	MaxBackdate time.Duration
}

// FutureSkew is how far ahead of the server's clock a manual entry may be dated.
const FutureSkew = 5 * time.Minute

// Why a manual entry needs a second approver.
const (
	ReasonAgencyAccount = "agency_account"
	ReasonAmount        = "amount"
)

// approvalReasons says why postings need a second approver (none: post at once).
func (r ManualRules) approvalReasons(ps []Posting) []string {
	var reasons []string
	debits := map[string]decimal.Decimal{}
	agency := false
	for _, p := range ps {
		agency = agency || strings.HasPrefix(p.Account, "agency:")
		if p.Direction == Debit {
			debits[p.Currency] = debits[p.Currency].Add(p.Amount)
		}
	}
	if agency {
		reasons = append(reasons, ReasonAgencyAccount)
	}
	for cur, sum := range debits {
		if cur != "VND" || sum.GreaterThan(r.ApprovalAmount) {
			reasons = append(reasons, ReasonAmount)
			break
		}
	}
	return reasons
}

// checkDate checks a manual effective time against now and the closed days.
func (r ManualRules) checkDate(ctx context.Context, db DBTX, at, now time.Time) error {
	switch {
	case at.After(now.Add(FutureSkew)):
		return invalid("effective_at", "a manual entry may not take effect in the future")
	case at.Before(now.Add(-r.MaxBackdate)):
		return invalid("effective_at", "a manual entry may take effect at most %s in the past", r.MaxBackdate)
	}
	last, ok, err := LastClosedDay(ctx, db)
	if err != nil {
		return err
	}
	if ok && !DayOf(at).After(last) {
		// A day reopened (and not closed again) is open to adjustments even
		// before the last closed day: reopening it was for that.
		day := DayOf(at)
		closed, err := GetClosedDay(ctx, db, day)
		if err != nil {
			return err
		}
		open := closed == nil
		if open {
			if open, err = reopened(ctx, db, day); err != nil {
				return err
			}
		}
		if open {
			return nil
		}
		return fmt.Errorf("%w: %s is on or before %s, the last closed business day", ErrDayClosed,
			at.In(bizday.Zone).Format(time.RFC3339), last.Format(DayLayout))
	}
	return nil
}

// ManualEntry is an adjusting entry a person asks for.
type ManualEntry struct {
	Reason      string    `json:"reason"`
	Reference   string    `json:"reference"`
	EffectiveAt time.Time `json:"effective_at"`
	// Adjustment marks an entry that carries revenue attribution.
	Adjustment bool      `json:"adjustment,omitempty"`
	Postings   []Posting `json:"postings"`
}

// ManualReversal asks for the reversal of an entry.
type ManualReversal struct {
	EntryID     int64      `json:"entry_id"`
	Reason      string     `json:"reason"`
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
}

// Requester is who asks for, approves or rejects a manual entry.
type Requester struct {
	KeyID uuid.UUID
	Actor string // as recorded_by: "treasury:<prefix>"
}

// Request statuses.
const (
	RequestPending  = "pending"
	RequestPosted   = "posted"
	RequestRejected = "rejected"
)

// EntryRequest is a manual entry or reversal waiting for (or decided by) a
// second approver.
type EntryRequest struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"` // entry or reversal
	Status      string          `json:"status"`
	Entry       *ManualEntry    `json:"entry,omitempty"`
	Reversal    *ManualReversal `json:"reversal,omitempty"`
	Reasons     []string        `json:"reasons"`
	RequestedBy string          `json:"requested_by"`
	RequestedAt time.Time       `json:"requested_at"`
	DecidedBy   string          `json:"decided_by,omitempty"`
	DecidedAt   *time.Time      `json:"decided_at,omitempty"`
	Note        string          `json:"note,omitempty"`
	EntryID     *int64          `json:"entry_id,omitempty"`

	requestedKey uuid.UUID
	key          string
}

// Manual posts manual entries and reversals under ManualRules.
type Manual struct {
	pool  *pgxpool.Pool
	rules ManualRules
	clock clock.Clock
}

// NewManual returns the manual entry service on pool, on the wall clock.
func NewManual(pool *pgxpool.Pool, rules ManualRules) *Manual {
	return &Manual{pool: pool, rules: rules, clock: clock.Real}
}

// WithClock sets the clock that dates manual entries are checked against
// (MaxBackdate, the future, closed days) and that records them (nil: the
// wall clock).
func (s *Manual) WithClock(c clock.Clock) *Manual {
	s.clock = clock.Or(c)
	return s
}

func (s *Manual) now() time.Time { return s.clock.Now() }

// ManualOutcome is what asking for a manual entry did: posted it (Entry), or
// stored it for a second approver (Request). Created is false on a replay.
type ManualOutcome struct {
	Entry   *Entry
	Request *EntryRequest
	Created bool
}

// newEntry is the ledger entry of m under key.
func (m ManualEntry) newEntry(key, by string) (NewEntry, error) {
	ps := append([]Posting(nil), m.Postings...)
	for i, p := range ps {
		if p.ServiceCode == "" && p.Channel == "" {
			continue
		}
		field := fmt.Sprintf("postings[%d]", i)
		if !m.Adjustment {
			return NewEntry{}, invalid(field+".service_code", "a manual entry carries revenue attribution only when marked \"adjustment\": true (revenue then shows it as an adjustment)")
		}
		if p.Channel != "" && p.Channel != AdjustmentChannel {
			return NewEntry{}, invalid(field+".channel", "an adjustment's channel is %q", AdjustmentChannel)
		}
		ps[i].Channel = AdjustmentChannel
	}
	return NewEntry{Key: key, Kind: KindAdjustment, Reference: m.Reference, Description: m.Reason,
		EffectiveAt: m.EffectiveAt, RecordedBy: by, Postings: ps}, nil
}

// Post posts m under key at once, or stores it as a request for a second
// approver, with its audit row in the same transaction.
func (s *Manual) Post(ctx context.Context, by Requester, key string, m ManualEntry) (ManualOutcome, error) {
	e, err := m.newEntry(key, by.Actor)
	if err != nil {
		return ManualOutcome{}, err
	}
	e.Now = s.now()
	norm, err := normalize(e, false)
	if err != nil {
		return ManualOutcome{}, err
	}
	var out ManualOutcome
	// Idempotent under key: run again where PostgreSQL says it may.
	err = db.IdempotentTx(ctx, s.pool, "ledger.manual_post", func(tx pgx.Tx) error {
		out = ManualOutcome{}
		done, err := s.replayed(ctx, tx, key, "entry", m, &out)
		if done || err != nil {
			return err
		}
		if out.Entry == nil { // not a replay of a posted entry (post compares those)
			if err := s.rules.checkDate(ctx, tx, norm.EffectiveAt, e.Now); err != nil {
				return err
			}
			if reasons := s.rules.approvalReasons(norm.Postings); len(reasons) > 0 {
				return s.request(ctx, tx, by, key, "entry", m, reasons, &out)
			}
		}
		entry, created, err := post(ctx, tx, e, 0)
		if err != nil {
			return err
		}
		out = ManualOutcome{Entry: &entry, Created: created}
		if !created {
			return nil
		}
		return audit.Record(ctx, tx, audit.Event{Action: "ledger.entry.post", ResourceType: "ledger_entry",
			ResourceID: fmt.Sprint(entry.ID), After: entry})
	})
	return out, err
}

// Reverse reverses r.EntryID under key at once, or stores it as a request
// for a second approver when the original touches an agency account or
// moves more than the approval amount.
func (s *Manual) Reverse(ctx context.Context, by Requester, key string, r ManualReversal) (ManualOutcome, error) {
	if strings.TrimSpace(r.Reason) == "" {
		return ManualOutcome{}, invalid("reason", "a reversal needs a reason")
	}
	var out ManualOutcome
	// Idempotent under key: run again where PostgreSQL says it may.
	err := db.IdempotentTx(ctx, s.pool, "ledger.manual_reverse", func(tx pgx.Tx) error {
		out = ManualOutcome{}
		if done, err := s.replayed(ctx, tx, key, "reversal", r, &out); done || err != nil {
			return err
		}
		orig, err := GetEntry(ctx, tx, r.EntryID)
		if err != nil {
			return err
		}
		if orig.Kind == KindReversal {
			return fmt.Errorf("ledger: reverse entry %d: %w", orig.ID, ErrNotReversible)
		}
		if r.EffectiveAt != nil {
			if err := s.rules.checkDate(ctx, tx, *r.EffectiveAt, s.now()); err != nil {
				return err
			}
		}
		if reasons := s.rules.approvalReasons(orig.Postings); len(reasons) > 0 {
			return s.request(ctx, tx, by, key, "reversal", r, reasons, &out)
		}
		entry, err := s.reverse(ctx, tx, key, by.Actor, orig, r)
		if err != nil {
			return err
		}
		out = ManualOutcome{Entry: &entry, Created: true}
		return audit.Record(ctx, tx, audit.Event{Action: "ledger.entry.reverse", ResourceType: "ledger_entry",
			ResourceID: fmt.Sprint(entry.ID), After: entry})
	})
	return out, err
}

// reverse posts the reversal r of orig: at the time asked, else the
// original's if a manual entry could still take effect then, else now (a
// closed day's entry is reversed in the open day).
func (s *Manual) reverse(ctx context.Context, tx pgx.Tx, key, by string, orig Entry, r ManualReversal) (Entry, error) {
	now := s.now()
	rev := Reversal{Key: key, EntryID: orig.ID, Reason: r.Reason, RecordedBy: by, Now: now}
	switch {
	case r.EffectiveAt != nil:
		if err := s.rules.checkDate(ctx, tx, *r.EffectiveAt, now); err != nil {
			return Entry{}, err
		}
		rev.EffectiveAt = *r.EffectiveAt
	case s.rules.checkDate(ctx, tx, orig.EffectiveAt, now) != nil:
		rev.EffectiveAt = now
	}
	entry, _, err := reverse(ctx, tx, rev)
	return entry, err
}

// replayed finds an entry or a request already made under key: the same
// request again answers what the first did (done); another is an idempotency
// conflict. A manual entry posted under key is left to post, which compares
// its content (out.Entry is set, done false).
func (s *Manual) replayed(ctx context.Context, tx pgx.Tx, key, kind string, asked any, out *ManualOutcome) (bool, error) {
	hash, err := requestHash(kind, asked)
	if err != nil {
		return false, err
	}
	req, err := getRequest(ctx, tx, "r.idempotency_key = $1", key)
	if err == nil {
		stored, err := requestHash(req.Kind, req.asked())
		if err != nil {
			return false, err
		}
		if !bytes.Equal(stored, hash) {
			return false, fmt.Errorf("ledger: request %q: %w (request %d)", key, ErrIdempotencyConflict, req.ID)
		}
		*out = ManualOutcome{Request: &req}
		return true, nil
	}
	if !errors.Is(err, ErrRequestNotFound) {
		return false, err
	}
	var id int64
	var reverses *int64
	err = tx.QueryRow(ctx, `SELECT e.id, e.reverses FROM ledger_entry_keys k
		JOIN ledger_entries e ON e.id = k.entry_id AND e.effective_at = k.effective_at WHERE k.idempotency_key = $1`, key).Scan(&id, &reverses)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger: manual entry %q: %w", key, err)
	}
	if kind == "reversal" {
		if r := asked.(ManualReversal); reverses == nil || *reverses != r.EntryID {
			return false, fmt.Errorf("ledger: reversal %q: %w (entry %d)", key, ErrIdempotencyConflict, id)
		}
		e, err := GetEntry(ctx, tx, id)
		*out = ManualOutcome{Entry: &e}
		return true, err
	}
	*out = ManualOutcome{Entry: &Entry{ID: id}} // an entry: post replays it, comparing its content
	return false, nil
}

func (r EntryRequest) asked() any {
	if r.Kind == "reversal" {
		return *r.Reversal
	}
	return *r.Entry
}

// requestHash identifies the content of a request (JSON of the asked value,
// whose field order is fixed by its type; times in UTC).
func requestHash(kind string, asked any) ([]byte, error) {
	switch v := asked.(type) {
	case ManualEntry:
		v.EffectiveAt = v.EffectiveAt.UTC().Truncate(time.Microsecond)
		ps := make([]Posting, len(v.Postings))
		for i, p := range v.Postings {
			p.Amount = decimal.RequireFromString(p.Amount.String())
			ps[i] = p
		}
		v.Postings, asked = ps, v
	case ManualReversal:
		if v.EffectiveAt != nil {
			t := v.EffectiveAt.UTC().Truncate(time.Microsecond)
			v.EffectiveAt = &t
		}
		asked = v
	}
	raw, err := json.Marshal(asked)
	if err != nil {
		return nil, fmt.Errorf("ledger: request hash: %w", err)
	}
	c := newCanon("civicpay/ledger/manual-request/v1")
	c.str(kind)
	c.bytes(raw)
	return c.sum(), nil
}

// request stores a request for a second approver, with its audit row.
func (s *Manual) request(ctx context.Context, tx pgx.Tx, by Requester, key, kind string, asked any, reasons []string, out *ManualOutcome) error {
	hash, err := requestHash(kind, asked)
	if err != nil {
		return err
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO ledger_entry_requests
		(idempotency_key, kind, request, content_hash, reasons, requested_by, requested_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		key, kind, asked, hash, reasons, by.Actor, by.KeyID).Scan(&id)
	if err != nil {
		return fmt.Errorf("ledger: store manual entry request: %w", err)
	}
	req, err := getRequest(ctx, tx, "r.id = $1", id)
	if err != nil {
		return err
	}
	*out = ManualOutcome{Request: &req, Created: true}
	return audit.Record(ctx, tx, audit.Event{Action: "ledger.entry.request", ResourceType: "ledger_entry_request",
		ResourceID: fmt.Sprint(id), After: req})
}

// Approve posts request id, approved by `by` — a different key than the one
// that asked. Two approvers at once post it once: the request row is locked,
// and the second finds it decided (ErrRequestDecided).
func (s *Manual) Approve(ctx context.Context, by Requester, id int64, note string) (EntryRequest, Entry, error) {
	var req EntryRequest
	var entry Entry
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if req, err = s.pending(ctx, tx, id); err != nil {
			return err
		}
		if req.requestedKey == by.KeyID {
			return fmt.Errorf("ledger: request %d: %w", id, ErrSelfApproval)
		}
		recordedBy := req.RequestedBy + ", approved by " + by.Actor
		switch req.Kind {
		case "entry":
			e, err := req.Entry.newEntry(req.key, recordedBy)
			if err != nil {
				return err
			}
			e.Now = s.now()
			if err := s.rules.checkDate(ctx, tx, e.EffectiveAt, e.Now); err != nil {
				return err
			}
			if entry, _, err = post(ctx, tx, e, 0); err != nil {
				return err
			}
		case "reversal":
			orig, err := GetEntry(ctx, tx, req.Reversal.EntryID)
			if err != nil {
				return err
			}
			if entry, err = s.reverse(ctx, tx, req.key, recordedBy, orig, *req.Reversal); err != nil {
				return err
			}
		}
		before := req
		if req, err = s.decide(ctx, tx, by, id, RequestPosted, note, &entry.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "ledger.entry.approve", ResourceType: "ledger_entry_request",
			ResourceID: fmt.Sprint(id), Before: before, After: req})
	})
	return req, entry, err
}

// Reject closes request id without posting it (the requester may withdraw its own).
func (s *Manual) Reject(ctx context.Context, by Requester, id int64, note string) (EntryRequest, error) {
	var req EntryRequest
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := s.pending(ctx, tx, id)
		if err != nil {
			return err
		}
		if req, err = s.decide(ctx, tx, by, id, RequestRejected, note, nil); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "ledger.entry.reject", ResourceType: "ledger_entry_request",
			ResourceID: fmt.Sprint(id), Before: before, After: req})
	})
	return req, err
}

// pending locks request id and requires it pending.
func (s *Manual) pending(ctx context.Context, tx pgx.Tx, id int64) (EntryRequest, error) {
	req, err := getRequest(ctx, tx, "r.id = $1 FOR UPDATE", id)
	if err != nil {
		return EntryRequest{}, err
	}
	if req.Status != RequestPending {
		return EntryRequest{}, fmt.Errorf("ledger: request %d is %s: %w", id, req.Status, ErrRequestDecided)
	}
	return req, nil
}

func (s *Manual) decide(ctx context.Context, tx pgx.Tx, by Requester, id int64, status, note string, entryID *int64) (EntryRequest, error) {
	_, err := tx.Exec(ctx, `UPDATE ledger_entry_requests SET status = $2, decided_by = $3, decided_key = $4,
		decided_at = now(), note = nullif($5, ''), entry_id = $6 WHERE id = $1`, id, status, by.Actor, by.KeyID, note, entryID)
	if err != nil {
		return EntryRequest{}, fmt.Errorf("ledger: decide request %d: %w", id, err)
	}
	return getRequest(ctx, tx, "r.id = $1", id)
}

// GetRequest returns request id.
func (s *Manual) GetRequest(ctx context.Context, id int64) (EntryRequest, error) {
	return getRequest(ctx, s.pool, "r.id = $1", id)
}

// ListRequests returns the requests in status ("" for all), newest first, at most limit.
func (s *Manual) ListRequests(ctx context.Context, status string, limit int) ([]EntryRequest, error) {
	rows, err := s.pool.Query(ctx, requestSQL+` WHERE ($1 = '' OR r.status = $1) ORDER BY r.id DESC LIMIT $2`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: list requests: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EntryRequest, error) { return scanRequest(r) })
	if err != nil {
		return nil, fmt.Errorf("ledger: list requests: %w", err)
	}
	return out, nil
}

const requestSQL = `SELECT r.id, r.idempotency_key, r.kind, r.status, r.request, r.reasons, r.requested_by,
	r.requested_key, r.requested_at, coalesce(r.decided_by, ''), r.decided_at, coalesce(r.note, ''), r.entry_id
	FROM ledger_entry_requests r`

func getRequest(ctx context.Context, db DBTX, where string, arg any) (EntryRequest, error) {
	req, err := scanRequest(db.QueryRow(ctx, requestSQL+" WHERE "+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return EntryRequest{}, fmt.Errorf("ledger: request %v: %w", arg, ErrRequestNotFound)
	}
	return req, err
}

func scanRequest(row pgx.Row) (EntryRequest, error) {
	var r EntryRequest
	var raw []byte
	err := row.Scan(&r.ID, &r.key, &r.Kind, &r.Status, &raw, &r.Reasons, &r.RequestedBy, &r.requestedKey,
		&r.RequestedAt, &r.DecidedBy, &r.DecidedAt, &r.Note, &r.EntryID)
	if err != nil {
		return r, err
	}
	if r.Kind == "reversal" {
		r.Reversal = &ManualReversal{}
		err = json.Unmarshal(raw, r.Reversal)
	} else {
		r.Entry = &ManualEntry{}
		err = json.Unmarshal(raw, r.Entry)
	}
	if err != nil {
		return r, fmt.Errorf("ledger: request %d: %w", r.ID, err)
	}
	r.RequestedAt = r.RequestedAt.UTC()
	return r, nil
}
