package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestConsoleJobsUIIsWired: the app gives the console River's UI on its own
// River client: an admin signed in gets the UI's page and its JSON API at
// /console/jobs through the real server.
func TestConsoleJobsUIIsWired(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	get, post := consoleClient(t, e)
	if res, _ := get("/console/jobs/"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
		t.Fatalf("/console/jobs/ signed out: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	store := console.NewStore(e.Pool, e.App.DataKeys, nil, console.Policy{})
	_, secret, err := store.DemoUser(audit.System(context.Background(), "test"),
		console.NewUser{Email: "root@example.vn", Role: console.RoleAdmin}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	_, page := get("/console/login")
	res := post("/console/login", url.Values{"csrf": {csrf.FindStringSubmatch(page)[1]}, "email": {"root@example.vn"}, "password": {"correct horse battery"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("password: %d", res.StatusCode)
	}
	_, page = get("/console/login/code")
	code, _ := console.TOTPCode(secret, time.Now())
	if res := post("/console/login/code", url.Values{"csrf": {csrf.FindStringSubmatch(page)[1]}, "code": {code}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("code: %d", res.StatusCode)
	}
	if res, page := get("/console/jobs/"); res.StatusCode != http.StatusOK || !strings.Contains(page, "/console/jobs/assets/") {
		t.Errorf("the UI's page: %d\n%.300s", res.StatusCode, page)
	}
	if res, body := get("/console/jobs/api/queues"); res.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"default"`) {
		t.Errorf("the UI's API on the app's client: %d %.300s", res.StatusCode, body)
	}
}
