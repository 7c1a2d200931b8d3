package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Entry is one row of the audit log as read back.
type Entry struct {
	ID           int64           `json:"id"`
	At           time.Time       `json:"at"`
	Actor        string          `json:"actor"`
	ActorRole    string          `json:"actor_role"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	SourceIP     string          `json:"source_ip,omitempty"`
	RequestID    string          `json:"request_id,omitempty"`
	Route        string          `json:"route,omitempty"`
	Before       json.RawMessage `json:"before,omitempty"`
	After        json.RawMessage `json:"after,omitempty"`
}

// Filter narrows a read of the log. Zero fields do not filter. Entries come
// newest first; Before is the id to continue below (a page's cursor).
type Filter struct {
	Actor, Action, ResourceType, ResourceID string
	From, To                                time.Time // From inclusive, To exclusive
	Before                                  int64
	Limit                                   int
}

// Querier is a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List reads the log, newest first, by f.
func List(ctx context.Context, q Querier, f Filter) ([]Entry, error) {
	where, args := []string{"true"}, []any{}
	// add adds the condition cond followed by the placeholder ($n) of v.
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+fmt.Sprintf("$%d", len(args)))
	}
	if f.Actor != "" {
		add("actor = ", f.Actor)
	}
	if f.Action != "" {
		add("action = ", f.Action)
	}
	if f.ResourceType != "" {
		add("resource_type = ", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = ", f.ResourceID)
	}
	if !f.From.IsZero() {
		add("at >= ", f.From)
	}
	if !f.To.IsZero() {
		add("at < ", f.To)
	}
	if f.Before > 0 {
		add("id < ", f.Before)
	}
	args = append(args, f.Limit)
	rows, err := q.Query(ctx, `
		SELECT id, at, actor, actor_role, action, resource_type, resource_id, source_ip, request_id, route,
			before::text, after::text
		FROM audit_log WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var e Entry
		var before, after *string
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.ActorRole, &e.Action, &e.ResourceType, &e.ResourceID, &e.SourceIP,
			&e.RequestID, &e.Route, &before, &after)
		if before != nil {
			e.Before = json.RawMessage(*before)
		}
		if after != nil {
			e.After = json.RawMessage(*after)
		}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}

// cursor encodes the position after the last entry of a page.
func cursor(id int64) string { return strconv.FormatInt(id, 10) }
