package reconciliation_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/reconciliation"
)

func newApp(t *testing.T) *apptest.Env {
	t.Helper()
	return apptest.New(t, func(c *config.Config) { c.Recon.Cutoff = "off" })
}

func TestOnlyTreasuryReachesStatementsAndReconciliation(t *testing.T) {
	t.Parallel()
	e := newApp(t)
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/statements", "x"},
		{"GET", "/v1/statements", ""},
		{"GET", "/v1/statements/1", ""},
		{"GET", "/v1/statements/1/raw", ""},
		{"GET", "/v1/reconciliation/runs", ""},
		{"POST", "/v1/reconciliation/runs", `{"date":"2026-11-23"}`},
		{"GET", "/v1/reconciliation/runs/1", ""},
		{"GET", "/v1/reconciliation/runs/1/exceptions", ""},
		{"GET", "/v1/reconciliation/runs/1/export", ""},
		{"GET", "/v1/reconciliation/exceptions/1", ""},
		{"POST", "/v1/reconciliation/exceptions/1/resolve", `{"resolution":"accepted","note":"x"}`},
	}
	for _, who := range []struct {
		name, key string
		want      int
	}{{"portal", e.Portal, http.StatusForbidden}, {"agency", e.AgencyA, http.StatusForbidden}, {"none", "", http.StatusUnauthorized}} {
		for _, r := range routes {
			var body any
			if r.body != "" {
				body = r.body
			}
			if got := e.Do(t, r.method, r.path, who.key, body).Status; got != who.want {
				t.Errorf("%s %s %s = %d, want %d", who.name, r.method, r.path, got, who.want)
			}
		}
	}
	if got := e.Do(t, "GET", "/v1/reconciliation/runs", e.Treasury, nil).Status; got != http.StatusOK {
		t.Fatalf("treasury lists runs: %d", got)
	}
}

// fileStatus polls a stored file until its load has finished.
func fileStatus(t *testing.T, e *apptest.Env, id int64) reconciliation.File {
	t.Helper()
	var f reconciliation.File
	eventually(t, fmt.Sprintf("file %d loaded", id), func() bool {
		e.Do(t, "GET", fmt.Sprintf("/v1/statements/%d", id), e.Treasury, nil).JSON(t, &f)
		return f.Status == reconciliation.FileLoaded || f.Status == reconciliation.FileRefused
	})
	return f
}

func TestUploadsAreLoadedByJobsAndABadStatementIsRefused(t *testing.T) {
	t.Parallel()
	e := newApp(t)
	day := time.Date(2026, time.November, 23, 0, 0, 0, 0, bizday.Zone)
	good := camt053(t, day, credit(50_000, day, "CK NHAM"))
	unbalanced := bytes.Replace(good, []byte(">1000050000<"), []byte(">1000040000<"), 1)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("file", "camt053-20261123.xml")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(good) //nolint:errcheck // a bytes.Buffer
	mw.Close()

	for _, c := range []struct {
		name        string
		body        []byte
		contentType string
		want        int
		status      string
		errorHas    string
	}{
		{"multipart", form.Bytes(), mw.FormDataContentType(), http.StatusAccepted, reconciliation.FileLoaded, ""},
		{"raw, the same file again", good, "application/xml", http.StatusOK, reconciliation.FileLoaded, ""},
		{"unbalanced", unbalanced, "application/xml", http.StatusAccepted, reconciliation.FileRefused, "difference 10000 VND"},
		{"not a statement", []byte("hello"), "text/plain", http.StatusUnprocessableEntity, "", ""},
		{"empty", nil, "text/plain", http.StatusUnprocessableEntity, "", ""},
		{"multipart without a file", []byte("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n"),
			"multipart/form-data; boundary=b", http.StatusBadRequest, "", ""},
	} {
		r := e.Do(t, "POST", "/v1/statements", e.Treasury, c.body, "Content-Type", c.contentType)
		if r.Status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, r.Status, r.Body, c.want)
			continue
		}
		if c.status == "" {
			continue
		}
		var f reconciliation.File
		r.JSON(t, &f)
		if f = fileStatus(t, e, f.ID); f.Status != c.status || !strings.Contains(f.Error, c.errorHas) {
			t.Errorf("%s: file %+v, want %s %q", c.name, f, c.status, c.errorHas)
		}
	}
	var runs runPage
	eventually(t, "the loaded statement's run", func() bool {
		e.Do(t, "GET", "/v1/reconciliation/runs?source=bank&status=completed", e.Treasury, nil).JSON(t, &runs)
		return len(runs.Items) == 1
	})
	if got := classes(runs.Items[0]); got["unknown"] != 1 {
		t.Fatalf("run of the uploaded statement: %v", got)
	}
}

func TestBadQueriesAreClientErrors(t *testing.T) {
	t.Parallel()
	e := newApp(t)
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v1/reconciliation/runs?source=paypal", "", http.StatusUnprocessableEntity},
		{"GET", "/v1/reconciliation/runs?date=23-11-2026", "", http.StatusUnprocessableEntity},
		{"GET", "/v1/reconciliation/runs?limit=0", "", http.StatusUnprocessableEntity},
		{"GET", "/v1/reconciliation/runs/abc", "", http.StatusNotFound},
		{"GET", "/v1/reconciliation/runs/99/exceptions?class=matched", "", http.StatusUnprocessableEntity},
		{"GET", "/v1/reconciliation/runs/99/exceptions", "", http.StatusNotFound},
		{"GET", "/v1/statements/99", "", http.StatusNotFound},
		{"POST", "/v1/reconciliation/runs", `{"date":"tomorrow"}`, http.StatusUnprocessableEntity},
		{"POST", "/v1/reconciliation/runs", `{"date":"2026-11-23","source":"paypal"}`, http.StatusUnprocessableEntity},
		{"POST", "/v1/reconciliation/exceptions/99/resolve", `{"resolution":"accepted","note":"ok"}`, http.StatusNotFound},
		{"POST", "/v1/reconciliation/exceptions/99/resolve", `{"resolution":"shrug","note":"ok"}`, http.StatusUnprocessableEntity},
		{"POST", "/v1/reconciliation/exceptions/99/resolve", `{"resolution":"accepted"}`, http.StatusUnprocessableEntity},
		{"POST", "/v1/reconciliation/exceptions/99/resolve", `{"resolution":"accepted","note":"x","extra":1}`, http.StatusBadRequest},
		// Days PostgreSQL's date cannot read (year 0: a 500 on main) or that
		// no ledger entry can be in (before 2000, from 9000: a run was queued).
		{"GET", "/v1/days/0000-01-01", "", http.StatusUnprocessableEntity},
		{"GET", "/v1/days/1999-12-31", "", http.StatusUnprocessableEntity},
		{"POST", "/v1/days/0000-01-01/close", `{"note":"n"}`, http.StatusUnprocessableEntity},
		{"GET", "/v1/reconciliation/runs?date=0000-01-01", "", http.StatusUnprocessableEntity},
		{"POST", "/v1/reconciliation/runs", `{"date":"0001-01-01"}`, http.StatusUnprocessableEntity},
		{"POST", "/v1/reconciliation/runs", `{"date":"9000-01-01"}`, http.StatusUnprocessableEntity},
		// Cursors past int4 ("$1 = 0" typed the parameter int4: a 500 on main).
		{"GET", "/v1/reconciliation/runs?cursor=9223372036854775807", "", http.StatusOK},
		{"GET", "/v1/statements?cursor=9223372036854775807", "", http.StatusOK},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		if r := e.Do(t, c.method, c.path, e.Treasury, body); r.Status != c.want {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, r.Status, r.Body, c.want)
		}
	}
}
