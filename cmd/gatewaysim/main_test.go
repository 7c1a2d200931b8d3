package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPrintEnv(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	env := map[string]string{"GATEWAYSIM_PUBLIC_URL": "http://sim.test:9000", "CIVICPAY_MOMO_PARTNER_CODE": "MOMOX"}
	if err := run(context.Background(), []string{"-print-env"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CIVICPAY_VNPAY_BASE_URL=http://sim.test:9000/vnpay\n", "CIVICPAY_MOMO_PARTNER_CODE=MOMOX\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"unknown flag", []string{"-nope"}, nil},
		{"extra argument", []string{"serve"}, nil},
		{"bad duration in the environment", nil, map[string]string{"GATEWAYSIM_CALLBACK_TIMEOUT": "soon"}},
		{"bad log level", []string{"-log-level", "loud"}, nil},
		{"bad IPN URL", []string{"-vnpay-ipn-url", "not a url", "-addr", "127.0.0.1:0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err == nil {
				t.Error("run succeeded")
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServe starts the command on a free port, reads its index, stops it
// and finds the state saved.
func TestServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data-dir", dir, "-callback-base", "http://127.0.0.1:1"},
			func(string) string { return "" }, &out, io.Discard)
	}()
	addr := regexp.MustCompile(`listening on (\S+)`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); {
		m = addr.FindStringSubmatch(out.String())
		time.Sleep(10 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("no listening line in %q", out.String())
	}
	resp, err := http.Get("http://" + m[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "/vnpay") || !strings.Contains(string(body), "http://127.0.0.1:1/callbacks/vnpay") {
		t.Errorf("index:\n%s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "gatewaysim.json")); err != nil {
		t.Errorf("state not saved: %v", err)
	}
}
