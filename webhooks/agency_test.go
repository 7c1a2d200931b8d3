package webhooks

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/domain/auth"
)

// staff is a person signed in to the staff console, as the console makes its
// principal: the user's id in KeyID, no API key behind it.
func staff(role auth.Role, agency string) auth.Principal {
	return auth.Principal{KeyID: uuid.New(), Prefix: "staff:" + string(role), Role: role, AgencyCode: agency, Staff: true}
}

// Staff create endpoints that belong to an agency, not to a key: an agency's
// staff manage their agency's (its own and its keys'), an admin any agency's
// (naming it), nobody else's; the API's keys keep seeing only their own. An
// agency's endpoint hears what an agency key of its agency hears, and the
// agency's endpoints are capped like a key's.
func TestAgencyEndpoints(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxEndpointsPerKey = 3
	e := newEnv(t, cfg)
	ctx := context.Background()
	keyA, keyB, adminKey := e.key(auth.RoleAgency, "AG-A"), e.key(auth.RoleAgency, "AG-B"), e.key(auth.RoleAdmin, "")
	staffA, staffB, staffAdmin := staff(auth.RoleAgency, "AG-A"), staff(auth.RoleAgency, "AG-B"), staff(auth.RoleAdmin, "")
	const url = "http://127.0.0.1:9/hook"

	byKeyA := e.endpoint(keyA, url, EventOrderPaid)
	ofA := e.endpoint(staffA, url, EventOrderPaid)
	if byKeyA.OwnerKeyID != keyA.KeyID || byKeyA.AgencyCode != "AG-A" {
		t.Fatalf("an agency key's endpoint: owner %s agency %q", byKeyA.OwnerKeyID, byKeyA.AgencyCode)
	}
	if ofA.OwnerKeyID != uuid.Nil || ofA.AgencyCode != "AG-A" {
		t.Fatalf("an agency user's endpoint: owner %s agency %q; want no key, AG-A", ofA.OwnerKeyID, ofA.AgencyCode)
	}
	// An agency user's endpoint is its own agency's, whatever it asks for.
	if ep, err := e.svc.CreateEndpoint(ctx, staffB, EndpointInput{URL: url, Events: []string{EventOrderPaid}, AgencyCode: "AG-A"}); err != nil || ep.AgencyCode != "AG-B" {
		t.Fatalf("an AG-B user asking for AG-A: %+v, %v; want AG-B's", ep.Endpoint, err)
	}
	for _, c := range []struct {
		name string
		p    auth.Principal
		in   EndpointInput
	}{
		{"admin naming no agency", staffAdmin, EndpointInput{URL: url, Events: []string{EventOrderPaid}}},
		{"admin naming an unknown agency", staffAdmin, EndpointInput{URL: url, Events: []string{EventOrderPaid}, AgencyCode: "NOPE"}},
		{"treasury staff", staff(auth.RoleTreasury, ""), EndpointInput{URL: url, Events: []string{EventOrderPaid}, AgencyCode: "AG-A"}},
	} {
		var ve *ValidationError
		if _, err := e.svc.CreateEndpoint(ctx, c.p, c.in); !errors.As(err, &ve) || ve.Field != "agency_code" {
			t.Errorf("%s: %v; want a validation error on agency_code", c.name, err)
		}
	}
	ofB, err := e.svc.CreateEndpoint(ctx, staffAdmin, EndpointInput{URL: url, Events: []string{EventOrderPaid}, AgencyCode: "AG-B"})
	if err != nil || ofB.AgencyCode != "AG-B" || ofB.OwnerKeyID != uuid.Nil {
		t.Fatalf("admin for AG-B: %+v, %v", ofB.Endpoint, err)
	}

	ids := func(es []Endpoint, err error) []uuid.UUID {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out := []uuid.UUID{}
		for _, ep := range es {
			out = append(out, ep.ID)
		}
		slices.SortFunc(out, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		return out
	}
	sorted := func(in ...uuid.UUID) []uuid.UUID {
		slices.SortFunc(in, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		return in
	}
	if got, want := ids(e.svc.AgencyEndpoints(ctx, staffA, "AG-A", uuid.Nil, 0)), sorted(byKeyA.ID, ofA.ID); !slices.Equal(got, want) {
		t.Errorf("AG-A's user sees %v of AG-A, want %v", got, want)
	}
	if got := ids(e.svc.AgencyEndpoints(ctx, staffA, "AG-B", uuid.Nil, 0)); len(got) != 0 {
		t.Errorf("AG-A's user sees AG-B's endpoints %v", got)
	}
	if got := ids(e.svc.AgencyEndpoints(ctx, staffAdmin, "AG-B", uuid.Nil, 0)); len(got) != 2 {
		t.Errorf("the admin sees %d of AG-B's endpoints, want 2", len(got))
	}
	// The API keys as before: their own; the admin key all.
	if got := ids(e.svc.Endpoints(ctx, keyA, uuid.Nil, 0)); !slices.Equal(got, []uuid.UUID{byKeyA.ID}) {
		t.Errorf("AG-A's key sees %v, want only its own %s", got, byKeyA.ID)
	}
	if got := ids(e.svc.Endpoints(ctx, adminKey, uuid.Nil, 0)); len(got) != 4 {
		t.Errorf("the admin key sees %d endpoints, want 4", len(got))
	}
	for _, c := range []struct {
		name string
		p    auth.Principal
		id   uuid.UUID
	}{{"AG-B's user, AG-A's endpoint", staffB, ofA.ID}, {"AG-B's user, AG-A's key's endpoint", staffB, byKeyA.ID},
		{"AG-A's key, AG-A's own endpoint", keyA, ofA.ID}, {"AG-B's key, AG-B's own endpoint", keyB, ofB.ID}} {
		if _, err := e.svc.Endpoint(ctx, c.p, c.id); !errors.Is(err, ErrEndpointNotFound) {
			t.Errorf("%s: read %v", c.name, err)
		}
		if _, err := e.svc.RotateSecret(ctx, c.p, c.id); !errors.Is(err, ErrEndpointNotFound) {
			t.Errorf("%s: rotate %v", c.name, err)
		}
		if err := e.svc.DeleteEndpoint(ctx, c.p, c.id); !errors.Is(err, ErrEndpointNotFound) {
			t.Errorf("%s: delete %v", c.name, err)
		}
	}

	// Fan-out: AG-A's own endpoint gets AG-A's events, agency-only views too.
	paidA := e.publish(orderPaid("AG-A", nil))
	viewA := orderPaid("AG-A", nil)
	viewA.AgencyOnly = true
	onlyA := e.publish(viewA)
	paidB := e.publish(orderPaid("AG-B", nil))
	deliveredTo := func(ev string) []uuid.UUID {
		t.Helper()
		rows, err := e.pool.Query(ctx, `SELECT endpoint_id FROM webhook_deliveries WHERE event_id = $1`, ev)
		if err != nil {
			t.Fatal(err)
		}
		var out []uuid.UUID
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out = append(out, id)
		}
		return sorted(out...)
	}
	for ev, want := range map[string][]uuid.UUID{paidA: sorted(byKeyA.ID, ofA.ID), onlyA: sorted(byKeyA.ID, ofA.ID)} {
		if got := deliveredTo(ev); !slices.Equal(got, want) {
			t.Errorf("event %s went to %v, want %v", ev, got, want)
		}
	}
	if got := deliveredTo(paidB); len(got) != 2 || !slices.Contains(got, ofB.ID) || slices.Contains(got, ofA.ID) {
		t.Errorf("AG-B's event went to %v; want AG-B's two endpoints, not AG-A's", got)
	}

	// Retry and resend are the agency's to do, and audited.
	var delivery uuid.UUID
	if err := e.pool.QueryRow(ctx, `SELECT id FROM webhook_deliveries WHERE event_id = $1 AND endpoint_id = $2`, paidA, ofA.ID).Scan(&delivery); err != nil {
		t.Fatal(err)
	}
	person := audit.WithActor(ctx, audit.Actor{ID: "user:a", Role: "staff:agency"})
	if err := e.svc.RetryDelivery(person, staffB, delivery); !errors.Is(err, ErrDeliveryNotFound) {
		t.Errorf("AG-B's user retries AG-A's delivery: %v", err)
	}
	if err := e.svc.RetryDelivery(person, staffA, delivery); err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.ResendEvent(person, staffA, paidA, &ofA.ID); err != nil || len(got) != 1 {
		t.Fatalf("resend to AG-A's endpoint: %v, %v", got, err)
	}
	if _, err := e.svc.ResendEvent(person, staffB, paidA, &ofB.ID); !errors.Is(err, ErrEventNotFound) {
		t.Errorf("AG-B's user resends AG-A's event: %v", err)
	}
	for action, id := range map[string]string{"webhook_delivery.retry": delivery.String(), "webhook_event.resend": paidA} {
		if n := e.count(`SELECT count(*) FROM audit_log WHERE action = $1 AND resource_id = $2 AND actor = 'user:a'`, action, id); n != 1 {
			t.Errorf("%d %s audit rows by user:a, want 1", n, action)
		}
	}

	// The cap counts the agency's own endpoints, apart from its keys'.
	for range 2 {
		e.endpoint(staffA, url, EventOrderPaid)
	}
	if _, err := e.svc.CreateEndpoint(ctx, staffA, EndpointInput{URL: url, Events: []string{EventOrderPaid}}); !errors.Is(err, ErrTooManyEndpoints) {
		t.Errorf("AG-A's fourth endpoint: %v, want ErrTooManyEndpoints", err)
	}
	e.endpoint(keyA, url, EventOrderPaid)
}
