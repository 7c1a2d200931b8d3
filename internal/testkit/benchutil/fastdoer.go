package benchutil

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
)

// FastDoer sends the net/http requests the generated API client (package
// client) builds through a fasthttp client: the benchmarks share the
// machine's two cores with the server and PostgreSQL, and fasthttp's client
// costs less CPU than net/http's. It is a client.HttpRequestDoer.
type FastDoer struct {
	Client  *fasthttp.Client
	Timeout time.Duration // per request; 0: 30 s
}

// Do sends r and returns the whole response, its body read.
func (d FastDoer) Do(r *http.Request) (*http.Response, error) {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(r.URL.String())
	req.Header.SetMethod(r.Method)
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Set(k, v)
		}
	}
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		req.SetBodyRaw(body)
	}
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if err := d.Client.DoTimeout(req, res, timeout); err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
	}
	out := &http.Response{StatusCode: res.StatusCode(), Status: http.StatusText(res.StatusCode()), Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: make(http.Header), Request: r,
		Body: io.NopCloser(bytes.NewReader(append([]byte(nil), res.Body()...)))}
	for k, v := range res.Header.All() {
		out.Header.Add(string(k), string(v))
	}
	return out, nil
}
