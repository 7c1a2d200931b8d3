// Package browser runs headless Chromium for the pages' end-to-end tests:
// Debian's chromium (installed when missing and the test runs as root), a
// fresh profile per test, the flags this machine's closed network needs,
// JavaScript switched off on demand, screenshots, and steps with their own
// deadlines that fail the test with the step's name.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Path finds Debian's chromium, installing the package when it is missing.
// It skips the test, saying why, only where it cannot be installed (not
// root, no apt-get, the install failing).
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const why = "browser test skipped: Debian's chromium package is not installed"
	if os.Geteuid() != 0 {
		t.Skip(why + " and installing it needs root (run: apt-get install -y chromium)")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip(why + " and there is no apt-get to install it with")
	}
	apt := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(out, 1500))
		}
		return nil
	}
	t.Log("installing Debian's chromium package for the browser test")
	if err := apt("install", "-y", "chromium"); err != nil {
		t.Logf("install failed, updating package lists first: %v", err)
		if err := apt("update"); err != nil {
			t.Skipf("%s and could not be installed: %v", why, err)
		}
		if err := apt("install", "-y", "chromium"); err != nil {
			t.Skipf("%s and could not be installed: %v", why, err)
		}
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skipf("%s: apt-get installed it but it is not on PATH: %v", why, err)
	}
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	t   testing.TB
	ctx context.Context
	// StepTimeout bounds each Step and Read (default 45 s: a loaded machine renders slowly; only a failing step waits that long).
	StepTimeout time.Duration
}

// New starts headless Chromium (found by Path) with a fresh profile; it is
// stopped when the test ends, then its profile removed. timeout bounds the
// browser's whole life.
func New(t testing.TB, timeout time.Duration) *Browser {
	t.Helper()
	path := Path(t)
	profile, err := os.MkdirTemp("", "civicpay-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(profile, "tmp") // Chromium's own temporary files, removed with the profile
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.UserDataDir(filepath.Join(profile, "profile")), chromedp.Env("TMPDIR=" + tmp),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1024, 900),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
		// Chromium's helpers may still write there for a moment after it stops.
		deadline := time.Now().Add(5 * time.Second)
		for os.RemoveAll(profile) != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return &Browser{t: t, ctx: bctx, StepTimeout: 45 * time.Second}
}

// Context is the tab's context, for chromedp calls of the test's own.
func (b *Browser) Context() context.Context { return b.ctx }

// Step runs one part of a walk with its own deadline, failing the test with
// the step's name.
func (b *Browser) Step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
}

// Read runs one action that returns a string.
func (b *Browser) Read(name string, a chromedp.Action[string]) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	return v
}

// Value runs one action that returns any value (an attribute, a map of
// them), failing the test with the step's name.
func Value[T any](b *Browser, name string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	return v
}

// NoScript switches JavaScript off in the tab: the pages must work without it.
func NoScript() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})
}

// Shot saves the whole page as a PNG at path.
func Shot(t testing.TB, path string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tgt)
		if err != nil {
			return fmt.Errorf("screenshot: %w", err)
		}
		t.Logf("screenshot: %s", path)
		return os.WriteFile(path, png, 0o644)
	})
}

// ShotsDir is where a test leaves its screenshots: $CIVICPAY_SCREENSHOTS
// (made if missing) or the test's temporary directory.
func ShotsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CIVICPAY_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
