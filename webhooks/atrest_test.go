package webhooks

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// rawEndpoint is an endpoint's whole row as text, as anyone reading the
// database (a backup, a replica, a support query) sees it.
func (e *env) rawEndpoint(id uuid.UUID) string {
	e.t.Helper()
	var row string
	if err := e.pool.QueryRow(context.Background(), `SELECT row_to_json(e)::text FROM webhook_endpoints e WHERE id = $1`, id).Scan(&row); err != nil {
		e.t.Fatal(err)
	}
	return row
}

// Signing secrets are stored sealed under the data key: the row carries
// neither the secret nor its key part, before and after rotation, and the
// sealed values open to the secrets the API showed once.
func TestSigningSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Keys = secretboxFor(t)
	e := newEnv(t, cfg)
	ctx := context.Background()
	owner := e.key(auth.RolePortal, "")
	ep := e.endpoint(owner, "http://127.0.0.1:9/hook", EventOrderPaid)
	rotated, err := e.svc.RotateSecret(ctx, owner, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	row := e.rawEndpoint(ep.ID)
	for name, s := range map[string]string{"first": ep.Secret, "rotated": rotated.Secret} {
		if strings.Contains(row, s) || strings.Contains(row, strings.TrimPrefix(s, "whsec_")[:16]) {
			t.Errorf("the %s secret is readable in the database row: %s", name, row)
		}
	}
	var clear, previousClear *string
	var sealed, previousSealed []byte
	if err := e.pool.QueryRow(ctx, `SELECT secret, secret_enc, previous_secret, previous_secret_enc FROM webhook_endpoints WHERE id = $1`,
		ep.ID).Scan(&clear, &sealed, &previousClear, &previousSealed); err != nil {
		t.Fatal(err)
	}
	if clear != nil || previousClear != nil {
		t.Fatalf("secrets in clear columns: %v %v", clear != nil, previousClear != nil)
	}
	for _, c := range []struct {
		sealed []byte
		want   string
	}{{sealed, rotated.Secret}, {previousSealed, ep.Secret}} {
		got, err := OpenSecret(cfg.Keys, ep.ID, c.sealed)
		if err != nil || got != c.want {
			t.Fatalf("sealed secret opens to %q, %v", got[:min(len(got), 6)], err)
		}
		if _, err := OpenSecret(cfg.Keys, uuid.New(), c.sealed); err == nil {
			t.Fatal("a sealed secret opens for another endpoint")
		}
	}
}

// An endpoint written before secrets were sealed (secret in clear) still
// gets signed deliveries until `civicpay keys rotate-data-key` seals it.
func TestClearSecretFromBeforeSealingStillSigns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ctx := context.Background()
	rc := newReceiver(t, answer(http.StatusOK))
	owner := e.key(auth.RolePortal, "")
	secret, _ := NewSecret()
	id := uuid.Must(uuid.NewV7())
	if _, err := e.pool.Exec(ctx, `INSERT INTO webhook_endpoints (id, owner_key_id, url, event_types, secret)
		VALUES ($1, $2, $3, $4, $5)`, id, owner.KeyID, rc.url("/"), []string{EventOrderPaid}, secret); err != nil {
		t.Fatal(err)
	}
	e.start()
	ev := e.publish(orderPaid("", &owner.KeyID))
	e.eventually("delivery", func() bool { return rc.ok2xx()[ev] == 1 })
	r := rc.requests()[0]
	if err := Verify([]string{secret}, r.Header, r.Body, 0); err != nil {
		t.Fatalf("signed with the clear secret: %v", err)
	}
}

// A key owns at most MaxEndpointsPerKey endpoints, however many creations
// race; the next is a 422 problem; other keys are not affected.
func TestEndpointCapPerKey(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxEndpointsPerKey = 3
	e := newEnv(t, cfg)
	owner, ownerKey := e.apiKey(auth.RolePortal, "")
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, over int
	)
	for range 8 {
		wg.Go(func() {
			_, err := e.svc.CreateEndpoint(context.Background(), owner, EndpointInput{URL: "http://127.0.0.1:9/hook", Events: []string{EventOrderPaid}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrTooManyEndpoints):
				over++
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 3 || over != 5 {
		t.Fatalf("%d created and %d refused, want 3 and 5", ok, over)
	}
	a := newAPI(e)
	body := `{"url":"http://127.0.0.1:9/hook","events":["order.paid"]}`
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	a.want(http.StatusUnprocessableEntity, "POST", "/v1/webhook-endpoints", ownerKey, body, &p)
	if p.Title != "Too many webhook endpoints" {
		t.Fatalf("problem %+v", p)
	}
	_, otherKey := e.apiKey(auth.RolePortal, "")
	a.want(http.StatusCreated, "POST", "/v1/webhook-endpoints", otherKey, body, nil)
}

func secretboxFor(t *testing.T) *secretbox.Keyring {
	t.Helper()
	k, err := secretbox.Parse("t1:"+secretbox.GenerateKey(), "", secretbox.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}
