package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/domain/auth"
)

// TestSubjectDeliveries: the deliveries of one order's events, as each role
// sees them — treasury and admin all of them, an agency its own view's to its
// own endpoints, the portal its events to its endpoints — each with its
// attempts and the last answer; another order's are never listed.
func TestSubjectDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ctx := context.Background()
	agencyA, agencyB := e.key(auth.RoleAgency, "AG-A"), e.key(auth.RoleAgency, "AG-B")
	portal, treasury, admin := e.key(auth.RolePortal, ""), e.key(auth.RoleTreasury, ""), e.key(auth.RoleAdmin, "")
	// An endpoint AG-A's staff made in the console: the agency's, no key's.
	staffA := auth.Principal{KeyID: uuid.New(), Prefix: "staff:clerk@example.vn", Role: auth.RoleAgency, AgencyCode: "AG-A", Staff: true}
	urls := map[string]string{}
	for name, p := range map[string]auth.Principal{"agencyA": agencyA, "agencyA-staff": staffA, "agencyB": agencyB, "portal": portal,
		"treasury": treasury} {
		respond := answer(http.StatusNoContent)
		if name == "agencyA" {
			// Each message refused once, then taken: two attempts, the last
			// one a 204. Per message, not the receiver's first request:
			// the other order's event may arrive first.
			var mu sync.Mutex
			refused := map[string]bool{}
			respond = func(_ int, _ http.ResponseWriter, r *http.Request) (int, string) {
				mu.Lock()
				defer mu.Unlock()
				if id := r.Header.Get("webhook-id"); !refused[id] {
					refused[id] = true
					return http.StatusServiceUnavailable, "down"
				}
				return http.StatusNoContent, ""
			}
		}
		rc := newReceiver(t, respond)
		urls[name] = rc.url(name)
		e.endpoint(p, urls[name], EventOrderPaid)
	}
	e.start()

	// An order of two agencies: the full view (treasury, admin, its portal)
	// and each agency's own view.
	order := uuid.NewString()
	data := json.RawMessage(`{"id":"` + order + `"}`)
	full := e.publish(Event{Type: EventOrderPaid, OwnerKeyID: &portal.KeyID, Subject: order, Data: data})
	viewA := e.publish(Event{Type: EventOrderPaid, AgencyCode: "AG-A", AgencyOnly: true, Subject: order, Data: data})
	viewB := e.publish(Event{Type: EventOrderPaid, AgencyCode: "AG-B", AgencyOnly: true, Subject: order, Data: data})
	e.publish(orderPaid("AG-A", &portal.KeyID)) // another order
	e.eventually("deliveries", e.settled)

	type seen struct{ event, url string }
	for _, tc := range []struct {
		name string
		p    auth.Principal
		want []seen
	}{
		{"treasury", treasury, []seen{{full, urls["portal"]}, {full, urls["treasury"]}, {viewA, urls["agencyA"]},
			{viewA, urls["agencyA-staff"]}, {viewB, urls["agencyB"]}}},
		{"admin", admin, []seen{{full, urls["portal"]}, {full, urls["treasury"]}, {viewA, urls["agencyA"]},
			{viewA, urls["agencyA-staff"]}, {viewB, urls["agencyB"]}}},
		{"agency A", agencyA, []seen{{viewA, urls["agencyA"]}, {viewA, urls["agencyA-staff"]}}},
		{"agency A's staff", staffA, []seen{{viewA, urls["agencyA"]}, {viewA, urls["agencyA-staff"]}}},
		{"agency B", agencyB, []seen{{viewB, urls["agencyB"]}}},
		{"portal", portal, []seen{{full, urls["portal"]}}},
	} {
		ds, err := e.svc.SubjectDeliveries(ctx, tc.p, order, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []seen
		for _, d := range ds {
			got = append(got, seen{d.EventID, d.URL})
			if d.EventType != EventOrderPaid || d.State != "succeeded" || d.LastStatus == nil || *d.LastStatus != http.StatusNoContent ||
				d.LastAttemptAt == nil {
				t.Errorf("%s: delivery %+v", tc.name, d)
			}
			if want := map[bool]int{true: 2, false: 1}[d.URL == urls["agencyA"]]; d.Attempts != want {
				t.Errorf("%s: %s has %d attempts, want %d", tc.name, d.URL, d.Attempts, want)
			}
		}
		// Within an event, endpoints come in id order (created in map order): compare as sets per event.
		key := func(s seen) string { return s.event + " " + s.url }
		slices.SortFunc(got, func(a, b seen) int { return strings.Compare(key(a), key(b)) })
		slices.SortFunc(tc.want, func(a, b seen) int { return strings.Compare(key(a), key(b)) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s sees %v, want %v", tc.name, got, tc.want)
		}
	}
	if ds, err := e.svc.SubjectDeliveries(ctx, treasury, "", 0); err != nil || len(ds) != 0 {
		t.Errorf("no subject: %v, %v", ds, err)
	}
	if ds, err := e.svc.SubjectDeliveries(ctx, treasury, order, 1); err != nil || len(ds) != 1 || ds[0].EventID != full {
		t.Errorf("limit 1: %v, %v", ds, err)
	}
}
