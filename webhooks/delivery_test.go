package webhooks

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
)

// decideConfig has a schedule of seven waits (eight attempts) and lets a
// Retry-After postpone an attempt by an hour at most.
func decideConfig() Config {
	return Config{
		Timeout:       5 * time.Second,
		RetrySchedule: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour},
		RetryAfterMax: time.Hour,
	}
}

func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	cfg := decideConfig()
	if cfg.maxAttempts() != 8 {
		t.Fatalf("maxAttempts = %d, want 8 (first try and seven retries)", cfg.maxAttempts())
	}
	for i, w := range cfg.RetrySchedule {
		if got := cfg.retryDelay(i + 1); got != w {
			t.Fatalf("delay after attempt %d = %s, want %s", i+1, got, w)
		}
	}
	if got := cfg.retryDelay(20); got != 10*time.Hour {
		t.Fatalf("delay after attempt 20 = %s, want the last wait", got)
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	cfg := decideConfig()
	at := time.Date(2025, 1, 31, 3, 0, 0, 0, time.UTC)
	resp := func(status int, retryAfter string) response {
		return response{At: at, Status: status, RetryAfter: retryAfter}
	}
	netErr := response{At: at, Err: errors.New("connection refused")}
	tests := []struct {
		name             string
		r                response
		attempt, snoozes int
		outcome, state   string
		snooze           time.Duration
		cancel, disable  bool
	}{
		{"200", resp(200, ""), 1, 0, outcomeSucceeded, stateSucceeded, 0, false, false},
		{"204", resp(204, ""), 3, 0, outcomeSucceeded, stateSucceeded, 0, false, false},
		{"410 disables", resp(410, ""), 1, 0, outcomeFailed, stateFailed, 0, true, true},
		{"400 not retried", resp(400, ""), 1, 0, outcomeFailed, stateFailed, 0, true, false},
		{"401 not retried", resp(401, ""), 1, 0, outcomeFailed, stateFailed, 0, true, false},
		{"404 not retried", resp(404, ""), 1, 0, outcomeFailed, stateFailed, 0, true, false},
		{"408 retried", resp(408, ""), 1, 0, outcomeRetrying, statePending, 0, false, false},
		{"429 retried", resp(429, ""), 1, 0, outcomeRetrying, statePending, 0, false, false},
		{"500 retried", resp(500, ""), 2, 0, outcomeRetrying, statePending, 0, false, false},
		{"302 retried, not followed", resp(302, ""), 1, 0, outcomeRetrying, statePending, 0, false, false},
		{"network error retried", netErr, 1, 0, outcomeRetrying, statePending, 0, false, false},
		{"last attempt fails", resp(503, ""), 8, 0, outcomeFailed, stateFailed, 0, false, false},
		{"retry-after beyond schedule snoozes", resp(429, "120"), 1, 0, outcomeRetrying, statePending, 2 * time.Minute, false, false},
		{"retry-after as date", resp(503, at.Add(90*time.Second).Format(http.TimeFormat)), 1, 0, outcomeRetrying, statePending, 90 * time.Second, false, false},
		{"retry-after capped", resp(503, "86400"), 1, 0, outcomeRetrying, statePending, time.Hour, false, false},
		{"retry-after shorter than schedule ignored", resp(503, "60"), 2, 0, outcomeRetrying, statePending, 0, false, false},
		{"retry-after past snooze budget ignored", resp(429, "120"), 1, maxSnoozes, outcomeRetrying, statePending, 0, false, false},
		{"retry-after does not extend the last attempt", resp(429, "36001"), 8, 0, outcomeFailed, stateFailed, 0, false, false},
		{"retry-after garbage ignored", resp(429, "soon"), 1, 0, outcomeRetrying, statePending, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := decide(tt.r, tt.attempt, cfg.maxAttempts(), tt.snoozes, cfg)
			if v.outcome != tt.outcome || v.state != tt.state || v.snooze != tt.snooze || v.cancel != tt.cancel || (v.disable != "") != tt.disable {
				t.Fatalf("decide = %+v, want outcome %s state %s snooze %s cancel %v disable %v",
					v, tt.outcome, tt.state, tt.snooze, tt.cancel, tt.disable)
			}
			checkJobResult(t, v)
		})
	}
}

// checkJobResult asserts what River is told for a verdict.
func checkJobResult(t *testing.T, v verdict) {
	t.Helper()
	err := v.jobResult()
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	switch {
	case v.outcome == outcomeSucceeded:
		if err != nil {
			t.Fatalf("success returned %v", err)
		}
	case v.snooze > 0:
		if !errors.As(err, &snooze) || snooze.Duration != v.snooze {
			t.Fatalf("want JobSnooze(%s), got %v", v.snooze, err)
		}
	case v.cancel:
		if !errors.As(err, &cancel) {
			t.Fatalf("want JobCancel, got %v", err)
		}
	default:
		if err == nil || errors.As(err, &cancel) || errors.As(err, &snooze) {
			t.Fatalf("want a plain error (retry), got %v", err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 31, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		h    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"30", 30 * time.Second, true},
		{" 30 ", 30 * time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"99999999999", 0, false},
		{"4294967295", maxRetryAfter, true},
		{now.Add(time.Minute).Format(http.TimeFormat), time.Minute, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false},
		{"Fri, 31 Jan 2025", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.h, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.h, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "30", "Fri, 31 Jan 2025 03:01:00 GMT", "-1", "1e9", "\x00"} {
		f.Add(s)
	}
	now := time.Date(2025, 1, 31, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, h string) {
		d, ok := parseRetryAfter(h, now)
		if ok && (d <= 0 || d > maxRetryAfter) {
			t.Fatalf("parseRetryAfter(%q) = %s out of bounds", h, d)
		}
		if !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) not ok but %s", h, d)
		}
	})
}

func TestLogText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 600) // 1200 bytes
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"plain", []byte(`{"ok":true}`), `{"ok":true}`},
		{"nul removed", []byte("a\x00b"), "ab"},
		{"invalid utf-8 replaced", []byte{'a', 0xff, 'b'}, "a\uFFFDb"},
		{"cut at a rune boundary", []byte(long), strings.Repeat("é", 512)},
		{"cut rune at the end replaced", []byte("ab\xc3"), "ab\uFFFD"},
	}
	for _, tt := range tests {
		got := logText(tt.in, loggedBodyBytes)
		if got != tt.want || len(got) > loggedBodyBytes || !utf8.ValidString(got) {
			t.Errorf("%s: logText = %q (%d bytes), want %q", tt.name, got, len(got), tt.want)
		}
	}
}

func TestParseCursor(t *testing.T) {
	t.Parallel()
	for _, c := range []cursor{{}, {XactID: 1, Seq: 2}, {XactID: 1<<64 - 1, Seq: 1<<63 - 1}} {
		got, err := parseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("round trip %+v: got %+v, %v", c, got, err)
		}
	}
	for _, bad := range []string{"x", "1", "1.", ".1", "1.-1", "1.2.3", "-1.2", "18446744073709551616.1"} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("parseCursor(%q) accepted", bad)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "0.0", "873.12", "1.2.3", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil || s == "" {
			return
		}
		if again, err := parseCursor(c.String()); err != nil || again != c {
			t.Fatalf("cursor %q does not round-trip: %+v vs %+v (%v)", s, c, again, err)
		}
	})
}

// Check refuses the zero values that would break delivery, naming each;
// the tests' configuration passes.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	if err := testConfig().Check(); err != nil {
		t.Fatalf("testConfig: %v", err)
	}
	err := Config{RetrySchedule: []time.Duration{time.Second, 0}}.Check()
	if err == nil {
		t.Fatal("the zero configuration passed")
	}
	for _, want := range []string{"Timeout", "RetrySchedule has a wait", "DisableAfter", "SweepInterval", "MaxEndpointsPerKey"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not name %s", err, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewSweepWorker took the zero configuration")
		}
	}()
	NewSweepWorker(nil, Config{})
}
