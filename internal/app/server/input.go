package server

import (
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// textInput refuses a request whose path or query string holds what
// PostgreSQL text cannot: a NUL (%00) is a 422, bytes that are not UTF-8 a
// 400, each naming the parameter (query.service, path.code). It runs before
// every route but the gateways' callbacks (under skip), whose adapters verify
// a signature before anything is read and answer in the gateway's own
// protocol. Handlers may then pass any query or path parameter to the
// database as text.
func textInput(skip []string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		for _, p := range skip { // Fiber routes paths in any letter case
			if len(c.Path()) >= len(p) && strings.EqualFold(c.Path()[:len(p)], p) {
				return c.Next()
			}
		}
		if err := checkPath(c); err != nil {
			return err
		}
		var err error
		c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
			if err != nil {
				return
			}
			if e := checkText(k); e != nil {
				err = e("query[" + strconv.QuoteToASCII(clip(string(k), 64)) + "]")
				return
			}
			if e := checkText(v); e != nil {
				if plainParam.Match(k) {
					err = e("query." + string(k))
				} else {
					err = e("query[" + strconv.QuoteToASCII(clip(string(k), 64)) + "]")
				}
			}
		})
		if err != nil {
			return err
		}
		return c.Next()
	}
}

var plainParam = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// checkText says what is wrong with s as text, as an error naming a field.
func checkText(s []byte) func(field string) error {
	for i := 0; i < len(s); {
		if s[i] == 0 {
			return func(f string) error { return problem.Invalid(f, "must not contain NUL (%%00)") }
		}
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return func(f string) error { return problem.BadRequest(f, "not valid UTF-8") }
		}
		i += n
	}
	return nil
}

// checkPath checks each segment of the path, percent-decoded as the
// handlers that unescape it see it, naming the route's parameter there.
func checkPath(c *fiber.Ctx) error {
	raw := c.Request().URI().PathOriginal()
	segs := strings.Split(string(raw), "/")
	for i, seg := range segs {
		if e := checkText([]byte(seg)); e != nil {
			return e(paramName(c, segs, i))
		}
		if strings.IndexByte(seg, '%') < 0 {
			continue
		}
		if e := checkText(unescape(seg)); e != nil {
			return e(paramName(c, segs, i))
		}
	}
	return nil
}

// unescape decodes %XX escapes, leaving malformed ones as they are.
func unescape(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(n))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return b
}

// paramName names segment i of the request path: path.<name> of the first
// route of the method whose pattern matches the path and has a parameter
// there, or "path".
func paramName(c *fiber.Ctx, segs []string, i int) string {
	for _, r := range c.App().GetRoutes(true) {
		if r.Method != c.Method() {
			continue
		}
		pat := strings.Split(r.Path, "/")
		if len(pat) != len(segs) || !strings.HasPrefix(pat[i], ":") {
			continue
		}
		match := true
		for j, p := range pat {
			if !strings.HasPrefix(p, ":") && !strings.EqualFold(p, segs[j]) {
				match = false
				break
			}
		}
		if match {
			return "path." + strings.TrimRight(strings.TrimPrefix(pat[i], ":"), "?")
		}
	}
	return "path"
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// requireJSON refuses a request body that is not sent as JSON (415), the
// Content-Type missing included: under /v1 every body is JSON but a
// statement upload's (a POST under streamed). A body-less request needs none.
func requireJSON(streamed []string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var hasBody bool
		if isStreamed(c.Path(), streamed) {
			// The body is not read into memory here (bodyLimit leaves streamed
			// routes alone): the headers say whether there is one.
			// (-1: chunked; fasthttp says -2 for a request with no body.)
			cl := c.Request().Header.ContentLength()
			hasBody = c.Method() != fiber.MethodPost && (cl > 0 || cl == -1)
		} else {
			hasBody = len(c.Body()) > 0
		}
		if !hasBody {
			return c.Next()
		}
		ct := c.Get(fiber.HeaderContentType)
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != fiber.MIMEApplicationJSON || (params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8")) {
			detail := "the body must be JSON sent as Content-Type: application/json"
			if ct == "" {
				detail += "; the request has no Content-Type"
			}
			p := problem.New(http.StatusUnsupportedMediaType, "Unsupported media type", detail)
			p.Errors = []problem.FieldError{{Field: "header.Content-Type", Detail: detail}}
			return p
		}
		return c.Next()
	}
}
