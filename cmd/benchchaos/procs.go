package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/benchutil"
)

// harnessApp is the application_name of the suite's own database
// connections: the dbbackends scenario terminates every other client backend
// of the database (the service's), never these.
const harnessApp = "benchchaos"

// troubles counts what went wrong outside the checks — a process that
// exited on its own, a SIGTERM not obeyed within its bound, a restart that
// failed: each makes the run's exit status 1.
var troubles atomic.Int64

// trouble reports one of them on stderr.
func trouble(format string, args ...any) {
	troubles.Add(1)
	benchutil.Progress("!! "+format, args...)
}

// proc is one child process: civicpay, gatewaysim or a civicpay command.
type proc struct {
	name    string
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{}
	err     error // the exit, once done is closed
	started time.Time
	exited  time.Time
	// expectExit is set before the harness stops the process on purpose, so
	// that an exit nobody asked for is reported.
	mu         sync.Mutex
	expectExit bool
}

// startProc starts bin with args and env, its output appended to logPath.
// The child gets SIGKILL if the harness dies (Pdeathsig) and has its own
// process group, so a Ctrl-C reaches the harness, which stops it.
func startProc(name, bin string, args, env []string, logPath string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: f, done: make(chan struct{}), started: time.Now()}
	go func() {
		p.err = cmd.Wait()
		p.exited = time.Now()
		f.Close()
		p.mu.Lock()
		expected := p.expectExit
		p.mu.Unlock()
		if !expected {
			trouble("%s (pid %d) exited on its own: %v — see %s", name, cmd.Process.Pid, p.err, logPath)
		}
		close(p.done)
	}()
	return p, nil
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) expect() {
	p.mu.Lock()
	p.expectExit = true
	p.mu.Unlock()
}

// kill9 sends SIGKILL to the process (by its pid) and waits for it to go.
func (p *proc) kill9() {
	p.expect()
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// term sends SIGTERM and waits up to d for the exit; it reports whether the
// process exited in time (if not, it is killed).
func (p *proc) term(d time.Duration) bool {
	p.expect()
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		p.kill9()
		return false
	}
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// moduleRoot is the directory of the go.mod `go` sees from here (`make
// bench` runs the suite from the repository's root, go test from its package).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the civicpay module")
	}
	return filepath.Dir(mod), nil
}

// build compiles civicpay and gatewaysim into dir.
func build(ctx context.Context, dir string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	for _, pkg := range []string{"civicpay", "gatewaysim"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, pkg), "./cmd/"+pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/%s: %w\n%s", pkg, err, out)
		}
	}
	return nil
}

// baseEnv is the harness's environment without anything that configures
// civicpay, gatewaysim or the database: the suite sets those itself.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || strings.HasPrefix(name, "CIVICPAY_") || strings.HasPrefix(name, "GATEWAYSIM_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// scratch is the suite's own database on the configured server.
type scratch struct {
	name, url string
	pool      *pgxpool.Pool // the harness's connections (application_name benchchaos)
}

// createDatabase creates civicpay_bench_chaos_<random> (empty: `civicpay
// migrate` migrates it).
func createDatabase(ctx context.Context) (*scratch, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "civicpay_bench_chaos_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, db.ServerURL())
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	return &scratch{name: name, url: db.WithDatabase(db.ServerURL(), name)}, nil
}

// open connects the harness's pool, named so dbbackends spares it.
func (s *scratch) open(ctx context.Context) error {
	u := s.url
	if strings.Contains(u, "?") {
		u += "&application_name=" + harnessApp
	} else {
		u += "?application_name=" + harnessApp
	}
	var err error
	s.pool, err = db.Open(ctx, u, db.Options{MaxConns: 8})
	return err
}

// drop removes the database, whoever is still connected.
func (s *scratch) drop() {
	if s.pool != nil {
		s.pool.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, db.ServerURL())
	if err != nil {
		benchutil.Progress("could not drop %s: %v", s.name, err)
		return
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+s.name+" WITH (FORCE)"); err != nil {
		benchutil.Progress("could not drop %s: %v", s.name, err)
	}
}

// terminateBackends ends every client backend of the database except the
// harness's own, as an operator's pg_terminate_backend would (or a failover
// cutting connections). It returns how many it ended.
func (s *scratch) terminateBackends(ctx context.Context) (int, error) {
	admin, err := pgx.Connect(ctx, db.ServerURL())
	if err != nil {
		return 0, err
	}
	defer admin.Close(ctx)
	var n int
	err = admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()
		  AND application_name IS DISTINCT FROM $2`, s.name, harnessApp).Scan(&n)
	return n, err
}

// runningJob waits up to d for a River job of kind to be running and
// returns its id (0 if none was seen).
func (s *scratch) runningJob(ctx context.Context, kind string, d time.Duration) (int64, error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		var id int64
		err := s.pool.QueryRow(ctx, `SELECT id FROM river_job WHERE kind = $1 AND state = 'running' LIMIT 1`, kind).Scan(&id)
		switch {
		case err == nil:
			return id, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return 0, err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, nil
}

// runCommand runs a civicpay command to completion (migrate, demo, ledger
// verify) and returns its standard output; stderr goes to the log.
func runCommand(ctx context.Context, bin string, env []string, logPath string, args ...string) ([]byte, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, f
	err = cmd.Run()
	return out.Bytes(), err
}

// exportValue finds `export NAME=value` in a civicpay demo output.
func exportValue(out []byte, name string) string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "export "+name+"="); ok {
			return v
		}
	}
	return ""
}

// waitHTTP polls url until it answers 200 or d passes.
func waitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	c := &http.Client{Timeout: time.Second}
	for {
		res, err := c.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", res.StatusCode)
			}
			return fmt.Errorf("%s not ready after %s: %v", url, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
