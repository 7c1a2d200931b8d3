package app_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/app/server"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

var paramRE = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIMatchesRoutes fails when a mounted route is missing from the OpenAPI
// document, or when the document lists a route the server does not have.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(server.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	mounted := map[string]bool{}
	for _, r := range e.App.HTTP.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" || r.Path == "/" || strings.HasSuffix(r.Path, "*") {
			continue
		}
		mounted[r.Method+" "+paramRE.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var missing, extra []string
	for k := range mounted {
		if !documented[k] && !isCitizenPage(k) {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !mounted[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("OpenAPI out of date.\nmounted but not documented: %v\ndocumented but not mounted: %v", missing, extra)
	}
	if len(mounted) < 10 {
		t.Fatalf("only %d routes mounted: the comparison is not looking at the real app", len(mounted))
	}
	if r := e.Do(t, "GET", "/openapi.json", "", nil); r.Status != 200 || !json.Valid(r.Body) {
		t.Fatalf("GET /openapi.json = %d", r.Status)
	}
}

// isCitizenPage: HTML pages for citizens and staff (the console) and gateway
// callbacks are not part of the JSON API document.
func isCitizenPage(route string) bool {
	_, path, _ := strings.Cut(route, " ")
	for _, p := range []string{"/pay/", "/receipts/", "/return/", "/callbacks/", "/static/", "/console/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
