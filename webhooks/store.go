package webhooks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// collect runs a query and gathers its rows with fn; what names the operation.
func collect[T any](ctx context.Context, q querier, what string, fn pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, fn)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %s: %w", what, err)
	}
	return out, nil
}

// rowErr wraps the error of reading one row: no row is notFound (naming id).
func rowErr(err, notFound error, what string, id any) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %v", notFound, id)
	}
	return fmt.Errorf("webhooks: %s: %w", what, err)
}

const endpointColumns = `e.id, e.owner_key_id, coalesce(e.agency_code, ''), e.url, e.event_types, e.description, e.enabled,
	coalesce(e.disabled_reason, ''), e.failing_since, e.created_at, e.updated_at`

func scanEndpoint(row pgx.Row, extra ...any) (Endpoint, error) {
	var e Endpoint
	var owner *uuid.UUID // NULL for an endpoint of an agency
	dest := append([]any{&e.ID, &owner, &e.AgencyCode, &e.URL, &e.Events, &e.Description, &e.Enabled,
		&e.DisabledReason, &e.FailingSince, &e.CreatedAt, &e.UpdatedAt}, extra...)
	err := row.Scan(dest...)
	if owner != nil {
		e.OwnerKeyID = *owner
	}
	return e, err
}

// secretAD binds a sealed signing secret to its endpoint (current and previous
// alike: rotation moves the current one to previous in SQL).
func secretAD(endpointID uuid.UUID) []byte {
	return []byte("webhook_endpoints.secret:" + endpointID.String())
}

// SealSecret and OpenSecret are how an endpoint's signing secret is stored.
func SealSecret(k *secretbox.Keyring, endpointID uuid.UUID, secret string) ([]byte, error) {
	return k.Seal([]byte(secret), secretAD(endpointID))
}

// OpenSecret decrypts a signing secret sealed by SealSecret.
func OpenSecret(k *secretbox.Keyring, endpointID uuid.UUID, sealed []byte) (string, error) {
	b, err := k.Open(sealed, secretAD(endpointID))
	return string(b), err
}

// insertEndpoint stores a new endpoint with its sealed secret, unless its
// owner (its key, or the agency for an endpoint of an agency) already has
// max: the count is taken under a lock per owner, in the transaction of the
// insert, so concurrent creations cannot pass the cap.
func insertEndpoint(ctx context.Context, tx pgx.Tx, e Endpoint, sealedSecret []byte, max int) (Endpoint, error) {
	owner, count := "key:"+e.OwnerKeyID.String(), `owner_key_id = @owner`
	if e.ownerKey() == nil {
		owner, count = "agency:"+e.AgencyCode, `owner_key_id IS NULL AND agency_code = @agency`
	}
	args := pgx.NamedArgs{"id": e.ID, "owner": e.ownerKey(), "agency": nullIfEmpty(e.AgencyCode), "url": e.URL,
		"events": e.Events, "description": e.Description, "enabled": e.Enabled, "secret_enc": sealedSecret, "lock": owner}
	// Two statements: the count's snapshot must be taken after the lock is
	// held (one statement's snapshot would predate it).
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || @lock::text, 0))`,
		pgx.NamedArgs{"lock": owner}); err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: lock endpoints: %w", err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints WHERE `+count, args).Scan(&n); err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: count endpoints: %w", err)
	}
	if n >= max {
		return Endpoint{}, fmt.Errorf("%w (%d)", ErrTooManyEndpoints, max)
	}
	row := tx.QueryRow(ctx, `
		INSERT INTO webhook_endpoints AS e (id, owner_key_id, agency_code, url, event_types, description, enabled, secret_enc)
		VALUES (@id, @owner, @agency, @url, @events, @description, @enabled, @secret_enc)
		RETURNING `+endpointColumns, args)
	out, err := scanEndpoint(row)
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23503" && pe.ConstraintName == "webhook_endpoints_agency_code_fkey" {
		return Endpoint{}, invalid("agency_code", "unknown agency %q", e.AgencyCode)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: insert endpoint: %w", err)
	}
	return out, nil
}

// getEndpoint reads one endpoint the caller may see; lock takes a row lock in tx.
func getEndpoint(ctx context.Context, q querier, scope string, args pgx.NamedArgs, id uuid.UUID, lock bool) (Endpoint, error) {
	sql := `SELECT ` + endpointColumns + ` FROM webhook_endpoints e WHERE e.id = @id AND ` + scope
	if lock {
		sql += ` FOR UPDATE`
	}
	e, err := scanEndpoint(q.QueryRow(ctx, sql, merge(args, pgx.NamedArgs{"id": id})))
	return e, rowErr(err, ErrEndpointNotFound, "get endpoint", id)
}

func listEndpoints(ctx context.Context, q querier, scope string, args pgx.NamedArgs, after uuid.UUID, limit int) ([]Endpoint, error) {
	return collect(ctx, q, "list endpoints", func(r pgx.CollectableRow) (Endpoint, error) { return scanEndpoint(r) }, `
		SELECT `+endpointColumns+` FROM webhook_endpoints e
		WHERE `+scope+` AND e.id > @after ORDER BY e.id LIMIT @limit`,
		merge(args, pgx.NamedArgs{"after": after, "limit": limit}))
}

// saveEndpoint writes the user-editable fields. Enabling clears the failure
// record so the sweeper does not disable it again at once.
func saveEndpoint(ctx context.Context, q querier, e Endpoint) (Endpoint, error) {
	row := q.QueryRow(ctx, `
		UPDATE webhook_endpoints e SET url = @url, event_types = @events, description = @description, enabled = @enabled,
			disabled_reason = CASE WHEN @enabled THEN NULL ELSE e.disabled_reason END,
			failing_since = CASE WHEN @enabled AND NOT e.enabled THEN NULL ELSE e.failing_since END,
			updated_at = now()
		WHERE e.id = @id
		RETURNING `+endpointColumns,
		pgx.NamedArgs{"id": e.ID, "url": e.URL, "events": e.Events, "description": e.Description, "enabled": e.Enabled})
	out, err := scanEndpoint(row)
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: update endpoint: %w", err)
	}
	return out, nil
}

func deleteEndpoint(ctx context.Context, q querier, id uuid.UUID) error {
	if _, err := q.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = @id`, pgx.NamedArgs{"id": id}); err != nil {
		return fmt.Errorf("webhooks: delete endpoint: %w", err)
	}
	return nil
}

// rotateSecret makes sealedSecret current and keeps the current one signing
// until graceUntil (sealed or, not yet sealed by `civicpay keys
// rotate-data-key`, in clear).
func rotateSecret(ctx context.Context, q querier, id uuid.UUID, sealedSecret []byte, graceUntil time.Time) (Endpoint, error) {
	row := q.QueryRow(ctx, `
		UPDATE webhook_endpoints e SET previous_secret = e.secret, previous_secret_enc = e.secret_enc,
			previous_secret_expires_at = @grace_until, secret = NULL, secret_enc = @secret_enc, updated_at = now()
		WHERE e.id = @id
		RETURNING `+endpointColumns, pgx.NamedArgs{"id": id, "secret_enc": sealedSecret, "grace_until": graceUntil})
	out, err := scanEndpoint(row)
	if err != nil {
		return Endpoint{}, fmt.Errorf("webhooks: rotate secret: %w", err)
	}
	return out, nil
}

// disableEndpoint switches an enabled endpoint off and returns it (its
// AgencyCode is its agency, or its owner key's); ok is false if it was
// already off or is gone.
func disableEndpoint(ctx context.Context, q querier, id uuid.UUID, reason string) (e Endpoint, ok bool, err error) {
	row := q.QueryRow(ctx, `
		UPDATE webhook_endpoints e SET enabled = false, disabled_reason = @reason, updated_at = now()
		WHERE e.id = @id AND e.enabled
		RETURNING `+endpointColumns, pgx.NamedArgs{"id": id, "reason": reason})
	e, err = scanEndpoint(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Endpoint{}, false, nil
	}
	if err != nil {
		return Endpoint{}, false, fmt.Errorf("webhooks: disable endpoint: %w", err)
	}
	return e, true, nil
}

// failingEndpoints locks enabled endpoints that have failed since before cutoff.
func failingEndpoints(ctx context.Context, q querier, cutoff time.Time) ([]uuid.UUID, error) {
	return collect(ctx, q, "find failing endpoints", pgx.RowTo[uuid.UUID], `
		SELECT id FROM webhook_endpoints
		WHERE enabled AND failing_since < @cutoff
		ORDER BY id FOR UPDATE SKIP LOCKED`, pgx.NamedArgs{"cutoff": cutoff})
}

// eventRow is an event as stored.
type eventRow struct {
	Envelope
	AgencyCode string
	AgencyOnly bool
	OwnerKeyID *uuid.UUID
	Subject    string
	Payload    []byte
}

// delivery is one (endpoint, event) pair to deliver, in its current generation.
type delivery struct {
	ID         uuid.UUID
	Generation int
	EndpointID uuid.UUID
	EventID    string
}

// insertEvents stores the events, in order, and a pending delivery for every
// enabled endpoint entitled to each, in one statement.
func insertEvents(ctx context.Context, q querier, evs []eventRow) ([]delivery, error) {
	n := len(evs)
	ids, types, subjects := make([]string, n), make([]string, n), make([]string, n)
	agencies, owners := make([]*string, n), make([]*uuid.UUID, n)
	payloads, created, agencyOnly := make([]string, n), make([]time.Time, n), make([]bool, n)
	for i, ev := range evs {
		ids[i], types[i], subjects[i], agencies[i], owners[i] = ev.ID, ev.Type, ev.Subject, nullIfEmpty(ev.AgencyCode), ev.OwnerKeyID
		payloads[i], created[i], agencyOnly[i] = string(ev.Payload), ev.Timestamp, ev.AgencyOnly
	}
	return collect(ctx, q, "insert events", pgx.RowToStructByPos[delivery], `
		WITH ev AS (
			INSERT INTO webhook_events (id, type, agency_code, owner_key_id, subject, payload, created_at, agency_only)
			SELECT * FROM unnest(@ids::text[], @types::text[], @agencies::text[], @owners::uuid[], @subjects::text[],
				@payloads::json[], @created::timestamptz[], @agency_only::bool[])
			RETURNING id, type, agency_code, owner_key_id, agency_only
		)
		INSERT INTO webhook_deliveries (endpoint_id, event_id)
		SELECT e.id, ev.id FROM ev
		JOIN webhook_endpoints e ON e.enabled AND e.event_types @> ARRAY[ev.type]
		LEFT JOIN auth_key_roles k ON k.id = e.owner_key_id
		WHERE `+fanOut("ev.agency_code", "ev.owner_key_id", "ev.agency_only")+`
		RETURNING id, generation, endpoint_id, event_id`,
		pgx.NamedArgs{"ids": ids, "types": types, "agencies": agencies, "owners": owners, "subjects": subjects,
			"payloads": payloads, "created": created, "agency_only": agencyOnly})
}

// eventFilter narrows GET /v1/events.
type eventFilter struct {
	Type    string
	Subject string
	Since   time.Time
	After   cursor
	Limit   int
}

// cursor is a position in the event list: (transaction id, sequence).
type cursor struct {
	XactID uint64
	Seq    int64
}

func (c cursor) String() string {
	return strconv.FormatUint(c.XactID, 10) + "." + strconv.FormatInt(c.Seq, 10)
}

// parseCursor reads a cursor given back by a client ("" is the start).
func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	x, q, ok := strings.Cut(s, ".")
	xid, err1 := strconv.ParseUint(x, 10, 64)
	seq, err2 := strconv.ParseInt(q, 10, 64)
	if !ok || err1 != nil || err2 != nil || seq < 0 {
		return cursor{}, errors.New("not a cursor returned by this API")
	}
	return cursor{XactID: xid, Seq: seq}, nil
}

// listEvents returns settled events in commit-horizon order: only events whose
// transaction is older than every transaction still running, so nothing can
// later appear before the returned cursor. The horizon is this database's
// (db.HorizonSQL): a long transaction in another database on the server does
// not hold the feed back; one in this database does, until it ends. Webhook
// delivery is not affected, and nothing is skipped.
// The returned cursor is the position after the last event (the given one if
// there are none): a poller keeps it and asks again later.
func listEvents(ctx context.Context, q querier, scope string, args pgx.NamedArgs, f eventFilter) ([]eventRow, cursor, error) {
	where := []string{scope, `(ev.xact_id, ev.seq) > (@after_xid::text::xid8, @after_seq)`,
		`ev.xact_id < (SELECT ` + db.HorizonSQL + `)::text::xid8`}
	named := merge(args, pgx.NamedArgs{"after_xid": strconv.FormatUint(f.After.XactID, 10), "after_seq": f.After.Seq, "limit": f.Limit})
	if f.Type != "" {
		where = append(where, "ev.type = @type")
		named["type"] = f.Type
	}
	if f.Subject != "" {
		where = append(where, "ev.subject = @subject")
		named["subject"] = f.Subject
	}
	if !f.Since.IsZero() {
		where = append(where, "ev.created_at >= @since")
		named["since"] = f.Since
	}
	rows, err := q.Query(ctx, `
		SELECT ev.xact_id::text, ev.seq, `+eventColumns+` FROM webhook_events ev
		WHERE `+strings.Join(where, " AND ")+` ORDER BY ev.xact_id, ev.seq LIMIT @limit`, named)
	if err != nil {
		return nil, cursor{}, fmt.Errorf("webhooks: list events: %w", err)
	}
	last := f.After
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (eventRow, error) {
		var xid string
		e, err := scanEvent(r, &xid, &last.Seq)
		if err == nil {
			last.XactID, err = strconv.ParseUint(xid, 10, 64)
		}
		return e, err
	})
	if err != nil {
		return nil, cursor{}, fmt.Errorf("webhooks: list events: %w", err)
	}
	return events, last, nil
}

const eventColumns = `ev.id, ev.type, ev.created_at, coalesce(ev.agency_code, ''), ev.agency_only, ev.owner_key_id, ev.subject, ev.payload`

func scanEvent(row pgx.Row, prefix ...any) (eventRow, error) {
	var e eventRow
	err := row.Scan(append(prefix, &e.ID, &e.Type, &e.Timestamp, &e.AgencyCode, &e.AgencyOnly, &e.OwnerKeyID, &e.Subject, &e.Payload)...)
	return e, err
}

func getEvent(ctx context.Context, q querier, scope string, args pgx.NamedArgs, id string) (eventRow, error) {
	// Through webhook_event_ids, which gives the event's created_at: one
	// partition of webhook_events is read, not every month's.
	e, err := scanEvent(q.QueryRow(ctx, `SELECT `+eventColumns+` FROM webhook_event_ids k
		JOIN webhook_events ev ON ev.id = k.id AND ev.created_at = k.created_at WHERE k.id = @id AND `+scope,
		merge(args, pgx.NamedArgs{"id": id})))
	return e, rowErr(err, ErrEventNotFound, "get event", id)
}

// redeliveries makes (or reopens, as a new generation) a pending delivery of ev
// for each enabled, subscribed, entitled endpoint in the owner scope; only is
// optional.
func redeliveries(ctx context.Context, q querier, scope string, args pgx.NamedArgs, ev eventRow, only *uuid.UUID) ([]delivery, error) {
	return collect(ctx, q, "redeliver event", pgx.RowToStructByPos[delivery], `
		INSERT INTO webhook_deliveries AS d (endpoint_id, event_id)
		SELECT e.id, @id FROM webhook_endpoints e LEFT JOIN auth_key_roles k ON k.id = e.owner_key_id
		WHERE e.enabled AND e.event_types @> ARRAY[@type::text] AND (@only::uuid IS NULL OR e.id = @only)
			AND `+scope+` AND `+fanOutRule+`
		ON CONFLICT (endpoint_id, event_id)
			DO UPDATE SET state = 'pending', generation = d.generation + 1, updated_at = now()
		RETURNING d.id, d.generation, d.endpoint_id, d.event_id`,
		merge(args, eventArgs(ev.AgencyCode, ev.OwnerKeyID, ev.AgencyOnly), pgx.NamedArgs{"id": ev.ID, "type": ev.Type, "only": only}))
}

// reopenDelivery starts a new pending generation of a delivery the caller may
// manage.
func reopenDelivery(ctx context.Context, q querier, scope string, args pgx.NamedArgs, id uuid.UUID) (delivery, error) {
	var d delivery
	err := q.QueryRow(ctx, `
		UPDATE webhook_deliveries d SET state = 'pending', generation = d.generation + 1, updated_at = now()
		FROM webhook_endpoints e
		WHERE d.id = @id AND e.id = d.endpoint_id AND `+scope+`
		RETURNING d.id, d.generation, d.endpoint_id, d.event_id`, merge(args, pgx.NamedArgs{"id": id})).
		Scan(&d.ID, &d.Generation, &d.EndpointID, &d.EventID)
	return d, rowErr(err, ErrDeliveryNotFound, "reopen delivery", id)
}

// target is everything one attempt needs, read fresh for every attempt so a
// rotated secret, an edited URL or a disabled endpoint take effect at once.
type target struct {
	DeliveryID uuid.UUID
	Generation int
	State      string
	EndpointID uuid.UUID
	URL        string
	Enabled    bool
	Secrets    []string // current first, then the previous one during its grace period
	EventID    string
	Payload    []byte
}

var errDeliveryGone = errors.New("delivery no longer exists")

// loadTarget reads delivery id with its endpoint's secrets: the previous one
// only while its grace runs at now.
func loadTarget(ctx context.Context, q querier, keys *secretbox.Keyring, id uuid.UUID, now time.Time) (target, error) {
	t := target{DeliveryID: id}
	var secret, previous *string
	var sealed, sealedPrevious []byte
	err := q.QueryRow(ctx, `
		SELECT d.generation, d.state, e.id, e.url, e.enabled, e.secret, e.secret_enc,
			CASE WHEN e.previous_secret_expires_at > @now THEN e.previous_secret END,
			CASE WHEN e.previous_secret_expires_at > @now THEN e.previous_secret_enc END,
			ev.id, ev.payload
		FROM webhook_deliveries d
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		JOIN webhook_event_ids k ON k.id = d.event_id -- the event's month: one partition read
		JOIN webhook_events ev ON ev.id = k.id AND ev.created_at = k.created_at
		WHERE d.id = @id`, pgx.NamedArgs{"id": id, "now": now}).
		Scan(&t.Generation, &t.State, &t.EndpointID, &t.URL, &t.Enabled, &secret, &sealed, &previous, &sealedPrevious,
			&t.EventID, &t.Payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return target{}, fmt.Errorf("webhooks: delivery %s: %w", id, errDeliveryGone)
	}
	if err != nil {
		return target{}, fmt.Errorf("webhooks: load delivery %s: %w", id, err)
	}
	for _, s := range []struct {
		clear  *string
		sealed []byte
	}{{secret, sealed}, {previous, sealedPrevious}} {
		switch {
		case s.sealed != nil:
			plain, err := OpenSecret(keys, t.EndpointID, s.sealed)
			if err != nil {
				return target{}, fmt.Errorf("webhooks: endpoint %s secret: %w", t.EndpointID, err)
			}
			t.Secrets = append(t.Secrets, plain)
		case s.clear != nil:
			t.Secrets = append(t.Secrets, *s.clear)
		}
	}
	return t, nil
}

// failDelivery ends a pending delivery generation that cannot be attempted.
func failDelivery(ctx context.Context, q querier, id uuid.UUID, generation int) error {
	if _, err := q.Exec(ctx, `
		UPDATE webhook_deliveries SET state = 'failed', updated_at = now()
		WHERE id = @id AND generation = @generation AND state = 'pending'`,
		pgx.NamedArgs{"id": id, "generation": generation}); err != nil {
		return fmt.Errorf("webhooks: fail delivery %s: %w", id, err)
	}
	return nil
}

// attemptRecord is one row of the delivery log plus the delivery's new state
// (applied only if the delivery is still in that generation).
type attemptRecord struct {
	DeliveryID   uuid.UUID
	Generation   int
	EndpointID   uuid.UUID
	At           time.Time
	StatusCode   *int
	LatencyMS    int64
	ResponseBody string
	Error        *string
	Outcome      string
	State        string
}

// recordAttempt logs the attempt, moves the delivery to its new state and keeps
// the endpoint's failure record, in one statement. The endpoint row is only
// written when its health changes, so deliveries to a busy, healthy endpoint do
// not queue on its row lock.
func recordAttempt(ctx context.Context, q querier, a attemptRecord) error {
	_, err := q.Exec(ctx, `
		WITH a AS (
			INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempted_at, status_code, latency_ms, response_body, error, outcome)
			VALUES (@delivery, @endpoint, @at, @status, @latency, @body, @error, @outcome)
		), d AS (
			UPDATE webhook_deliveries SET state = @state, attempts = attempts + 1, last_attempt_at = @at, updated_at = now()
			WHERE id = @delivery AND generation = @generation
		)
		UPDATE webhook_endpoints SET failing_since = CASE WHEN @ok THEN NULL ELSE @at::timestamptz END
		WHERE id = @endpoint AND (failing_since IS NULL) <> @ok`,
		pgx.NamedArgs{
			"delivery": a.DeliveryID, "generation": a.Generation, "endpoint": a.EndpointID, "at": a.At, "status": a.StatusCode,
			"latency": a.LatencyMS, "body": a.ResponseBody, "error": a.Error, "outcome": a.Outcome,
			"state": a.State, "ok": a.Outcome == outcomeSucceeded,
		})
	if err != nil {
		return fmt.Errorf("webhooks: record attempt of %s: %w", a.DeliveryID, err)
	}
	return nil
}

func listAttempts(ctx context.Context, q querier, endpointID uuid.UUID, before int64, limit int) ([]Attempt, error) {
	return collect(ctx, q, "list attempts", pgx.RowToStructByPos[Attempt], `
		SELECT a.id, a.delivery_id, d.state, d.event_id, ev.type, a.attempted_at, a.status_code,
			a.latency_ms, a.response_body, coalesce(a.error, ''), a.outcome
		FROM webhook_attempts a
		JOIN webhook_deliveries d ON d.id = a.delivery_id
		JOIN webhook_events ev ON ev.id = d.event_id
		WHERE a.endpoint_id = @endpoint AND a.id < @before
		ORDER BY a.id DESC LIMIT @limit`, pgx.NamedArgs{"endpoint": endpointID, "before": before, "limit": limit})
}
