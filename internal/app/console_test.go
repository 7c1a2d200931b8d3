package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestConsoleIsServed: the app mounts the staff console beside the API: the
// sign-in page is HTML under its own content security policy, /console sends
// a stranger to it, a form without its token is a 403, and a staff user of
// agency AG-A signs in and sees the dashboard scoped to AG-A.
func TestConsoleIsServed(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	get, post := consoleClient(t, e)
	if res, _ := get("/console"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
		t.Fatalf("/console signed out: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, page := get("/console/login?lang=en")
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
		!strings.Contains(page, `id="login-form"`) {
		t.Fatalf("sign-in page: %d, CSP %q", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)[1]
	if res := post("/console/login", url.Values{"email": {"a@example.vn"}, "password": {"whatever it is"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without the form token: %d, want 403", res.StatusCode)
	}

	store := console.NewStore(e.Pool, e.App.DataKeys, nil, console.Policy{})
	_, secret, err := store.DemoUser(audit.System(context.Background(), "test"),
		console.NewUser{Email: "clerk@example.vn", Role: console.RoleAgency, AgencyCode: "AG-A"}, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	res = post("/console/login", url.Values{"csrf": {token}, "email": {"clerk@example.vn"}, "password": {"correct horse battery"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login/code" {
		t.Fatalf("password: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, page = get("/console/login/code")
	token = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)[1]
	code, _ := console.TOTPCode(secret, time.Now())
	if res := post("/console/login/code", url.Values{"csrf": {token}, "code": {code}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("code: %d", res.StatusCode)
	}
	if res, page := get("/console"); res.StatusCode != 200 || !strings.Contains(page, "AG-A") || strings.Contains(page, `id="nav-admin"`) {
		t.Errorf("agency dashboard: %d, scoped to AG-A %v", res.StatusCode, strings.Contains(page, "AG-A"))
	}
}

// consoleClient is a browser without JavaScript on e's console: it keeps
// cookies and does not follow redirects. get returns the response and its
// body; post sends a form.
func consoleClient(t *testing.T, e *apptest.Env) (get func(path string) (*http.Response, string),
	post func(path string, form url.Values) *http.Response) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get = func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	post = func(path string, form url.Values) *http.Response {
		t.Helper()
		res, err := client.PostForm(e.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	return get, post
}
