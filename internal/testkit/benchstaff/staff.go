// Package benchstaff is a staff user's browser for the benchmarks that
// measure the console's pages: signed in through the pages (password, then
// TOTP), one cookie jar, redirects not followed.
package benchstaff

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/civicpay/civicpay/console"
)

// Staff is a signed-in staff user's browser: a cookie jar on one HTTP
// client, redirects not followed.
type Staff struct {
	base  string
	hc    *http.Client
	email string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// SignIn signs email in through the console's pages: password, then the
// TOTP code of secret.
func SignIn(base, email, password, secret string, conns int) (*Staff, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	s := &Staff{base: base, email: email, hc: &http.Client{Jar: jar, Timeout: 5 * time.Minute,
		Transport:     &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if err := s.submit("/console/login", url.Values{"email": {email}, "password": {password}}, "/console/login/code"); err != nil {
		return nil, fmt.Errorf("sign in %s: password: %w", email, err)
	}
	code, err := console.TOTPCode(secret, time.Now())
	if err != nil {
		return nil, err
	}
	if err := s.submit("/console/login/code", url.Values{"code": {code}}, "/console"); err != nil {
		return nil, fmt.Errorf("sign in %s: code: %w", email, err)
	}
	return s, nil
}

// submit gets the form at path and posts form to it with the page's CSRF
// token, expecting a redirect to want.
func (s *Staff) submit(path string, form url.Values, want string) error {
	status, body, err := s.get(path)
	if err != nil {
		return err
	}
	m := csrfRE.FindSubmatch(body)
	if status != http.StatusOK || m == nil {
		return fmt.Errorf("GET %s: %d, no form token", path, status)
	}
	form.Set("csrf", string(m[1]))
	res, err := s.hc.PostForm(s.base+path, form)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != want {
		return fmt.Errorf("POST %s: %d → %q, want 303 → %q", path, res.StatusCode, loc, want)
	}
	return nil
}

func (s *Staff) get(path string) (int, []byte, error) {
	res, err := s.hc.Get(s.base + path)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, body, err
}

// Page gets path and times it to the last byte of the body; the page must
// be a 200 containing want.
func (s *Staff) Page(path, want string) (time.Duration, []byte, error) {
	start := time.Now()
	status, body, err := s.get(path)
	d := time.Since(start)
	if err != nil {
		return 0, nil, err
	}
	if status != http.StatusOK {
		return 0, nil, fmt.Errorf("GET %s: %d", path, status)
	}
	if want != "" && !bytes.Contains(body, []byte(want)) {
		return 0, nil, fmt.Errorf("GET %s: no %q in the page", path, want)
	}
	return d, body, nil
}

// Download gets path (an export) and returns the time to its first byte,
// to its last, and the number of lines.
func (s *Staff) Download(path string) (ttfb, total time.Duration, lines int, err error) {
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	var first time.Time
	start := time.Now()
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotFirstResponseByte: func() { first = time.Now() },
	}))
	res, err := s.hc.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		return 0, 0, 0, fmt.Errorf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, err
	}
	return first.Sub(start), time.Since(start), lines, nil
}
