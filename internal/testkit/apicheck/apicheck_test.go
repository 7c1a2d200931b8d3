package apicheck

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/civicpay/civicpay/internal/app/server"
)

const tiny = `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/v1/things/{id}":{"get":{
 "parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],
 "responses":{
  "200":{"description":"ok","content":{"application/json":{"schema":{"type":"object","required":["id"],
    "properties":{"id":{"type":"string"},"n":{"type":"integer"}}}}}},
  "204":{"description":"none"},
  "404":{"description":"no","content":{"application/problem+json":{"schema":{"type":"object","properties":{"title":{"type":"string"}}}}}}}}}}}`

// TestResponseChecks: each kind of drift is caught, and a response as
// documented passes.
func TestResponseChecks(t *testing.T) {
	t.Parallel()
	c, err := New([]byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name   string
		path   string
		status int
		header http.Header
		body   string
		want   string // "" passes; "undocumented" is ErrUndocumented
	}{
		{"as documented", "/v1/things/1", 200, jsonCT, `{"id":"1","n":2}`, ""},
		{"problem", "/v1/things/1", 404, http.Header{"Content-Type": {"application/problem+json"}}, `{"title":"Not found"}`, ""},
		{"no body", "/v1/things/1", 204, http.Header{}, ``, ""},
		{"undocumented status", "/v1/things/1", 409, jsonCT, `{}`, "status is not supported"},
		{"wrong content type", "/v1/things/1", 200, http.Header{"Content-Type": {"text/plain"}}, `{"id":"1"}`, "header Content-Type has unexpected value"},
		{"missing field", "/v1/things/1", 200, jsonCT, `{"n":2}`, `property "id" is missing`},
		{"wrong type", "/v1/things/1", 200, jsonCT, `{"id":"1","n":"two"}`, "value must be an integer"},
		{"field not documented", "/v1/things/1", 200, jsonCT, `{"id":"1","extra":true}`, `property "extra" is unsupported`},
		{"body where none is documented", "/v1/things/1", 204, jsonCT, `{"id":"1"}`, "the document gives no body"},
		{"operation not documented", "/v1/other", 200, jsonCT, `{}`, "undocumented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			err := c.Response(req, tt.status, tt.header, []byte(tt.body))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "undocumented" && !errors.Is(err, ErrUndocumented):
				t.Fatalf("err = %v, want ErrUndocumented", err)
			case tt.want != "" && tt.want != "undocumented" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestDocumentDescribesEveryBody: every operation of the served document
// has an operationId (the generated client's method names), every success
// that has a body gives its schema, and every error is problem+json.
func TestDocumentDescribesEveryBody(t *testing.T) {
	t.Parallel()
	if _, err := Default(); err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(server.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			name := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", name)
			}
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					if mt.Schema == nil {
						t.Errorf("%s: request body %s has no schema", name, ct)
					}
				}
			}
			for code, res := range op.Responses.Map() {
				switch {
				case code == "204":
					if len(res.Value.Content) != 0 {
						t.Errorf("%s %s: a 204 with a body", name, code)
					}
				case code >= "400":
					if mt := res.Value.Content.Get("application/problem+json"); mt == nil || mt.Schema == nil || len(res.Value.Content) != 1 {
						t.Errorf("%s %s: an error that is not application/problem+json", name, code)
					}
				default:
					if len(res.Value.Content) == 0 {
						t.Errorf("%s %s: no body described", name, code)
					}
					for ct, mt := range res.Value.Content {
						if mt.Schema == nil {
							t.Errorf("%s %s: %s has no schema", name, code, ct)
						}
					}
				}
			}
		}
	}
	if ops < 50 {
		t.Fatalf("only %d operations: not the served document", ops)
	}
}
