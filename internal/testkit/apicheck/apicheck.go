// Package apicheck holds HTTP responses against civicpay's OpenAPI document
// (internal/app/server/openapi.json): every test that calls the API through
// apptest (or a package's own test app) has each response checked, so the
// document cannot drift from the service unnoticed.
//
// A response fails when its status is not documented for the operation, its
// Content-Type is not one the document gives for that status, its body does
// not match the schema, or it has a body where the document says none. Object
// schemas in responses are read as closed: a field the service sends that the
// document does not name is a failure too (the document itself leaves them
// open, so a client generated from it accepts fields added later).
//
// Requests are not checked: tests send malformed requests on purpose.
package apicheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/civicpay/civicpay/internal/app/server"
)

func init() {
	// CSV bodies (exports, statements as received) are checked for their
	// content type only: kin-openapi's CSV decoder wants every record to have
	// the same number of fields, which a settlement file's trailer does not.
	openapi3filter.RegisterBodyDecoder("text/csv", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/xml", openapi3filter.FileBodyDecoder)
}

// Checker checks responses against one OpenAPI document.
type Checker struct {
	router routers.Router
}

var (
	defaultOnce    sync.Once
	defaultChecker *Checker
	defaultErr     error
)

// Default is the Checker for the document the server serves, loaded once.
func Default() (*Checker, error) {
	defaultOnce.Do(func() { defaultChecker, defaultErr = New(server.OpenAPI()) })
	return defaultChecker, defaultErr
}

// New loads and validates an OpenAPI document.
func New(doc []byte) (*Checker, error) {
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("apicheck: load OpenAPI document: %w", err)
	}
	if err := d.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("apicheck: invalid OpenAPI document: %w", err)
	}
	d.Servers = nil // match paths whatever host a test app listens on
	seen := map[*openapi3.Schema]bool{}
	for _, item := range d.Paths.Map() {
		for _, op := range item.Operations() {
			for _, res := range op.Responses.Map() {
				if res.Value == nil {
					continue
				}
				for _, mt := range res.Value.Content {
					closeObjects(mt.Schema, seen)
				}
			}
		}
	}
	r, err := legacy.NewRouter(d)
	if err != nil {
		return nil, fmt.Errorf("apicheck: router: %w", err)
	}
	return &Checker{router: r}, nil
}

// closeObjects sets additionalProperties: false on every object schema with
// named properties that does not say otherwise, through refs, items,
// properties and oneOf/anyOf (allOf parts are left open: closing one would
// refuse the fields of the others).
func closeObjects(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
		no := false
		s.AdditionalProperties.Has = &no
	}
	for _, p := range s.Properties {
		closeObjects(p, seen)
	}
	closeObjects(s.Items, seen)
	closeObjects(s.AdditionalProperties.Schema, seen)
	for _, o := range s.OneOf {
		closeObjects(o, seen)
	}
	for _, o := range s.AnyOf {
		closeObjects(o, seen)
	}
}

// ErrUndocumented is returned for a request to a path and method the
// document does not have.
var ErrUndocumented = errors.New("apicheck: operation not in the OpenAPI document")

// Response checks one response to req. It returns ErrUndocumented (wrapped)
// when the document has no operation for req.
func (c *Checker) Response(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrUndocumented, req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return fmt.Errorf("%s %s → %d: %w\nbody: %s", req.Method, route.Path, status, err, clip(body))
	}
	if len(body) > 0 && req.Method != http.MethodHead {
		res := route.Operation.Responses.Status(status)
		if res == nil {
			res = route.Operation.Responses.Default()
		}
		if res != nil && res.Value != nil && len(res.Value.Content) == 0 {
			return fmt.Errorf("%s %s → %d: the document gives no body, the service sent %q: %s",
				req.Method, route.Path, status, header.Get("Content-Type"), clip(body))
		}
	}
	return nil
}

// Check checks a response to req and fails t (t.Errorf) if it does not match
// the document. Requests outside the document (citizen pages, gateway
// callbacks, unknown paths) are not checked: a separate test holds the
// mounted routes and the document's paths equal.
func Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Response(req, status, header, body); err != nil && !errors.Is(err, ErrUndocumented) {
		t.Errorf("response does not match the OpenAPI document: %v", err)
	}
}

func clip(b []byte) string {
	s := string(b)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
