package devdb_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPrivateClusterWhenNothingAnswers runs pg.sh with DATABASE_URL unset and the
// probe pointed at a port where nothing listens: it must initialise and start a
// private cluster, create the database and print a URL that works.
func TestPrivateClusterWhenNothingAnswers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pgdata := filepath.Join(dir, "pgdata")
	env := append(filteredEnv(), "CIVICPAY_PG_PROBE=127.0.0.1:1", "CIVICPAY_PGDATA="+pgdata)
	script := "./pg.sh"

	// Something that is not PostgreSQL holds the first port of pg.sh's range (CI saw
	// "could not start server" when a port looked free to pg_isready but did not bind):
	// pg.sh must pass it over and start on another port.
	if squatter, err := net.Listen("tcp", "127.0.0.1:55432"); err == nil {
		t.Cleanup(func() { squatter.Close() })
	}

	stop := func() {
		cmd := exec.Command(script, "stop")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("pg.sh stop: %v\n%s", err, out)
		}
		if real, err := filepath.EvalSymlinks(pgdata); err == nil && real != pgdata {
			_ = os.RemoveAll(real)
		}
	}
	t.Cleanup(stop)

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(script, "url", "civicpay_devdb_test")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg.sh url: %v\nstderr:\n%s", err, stderr.String())
	}
	url := strings.TrimSpace(stdout.String())
	if !strings.Contains(stderr.String(), "nothing answers on 127.0.0.1:1") {
		t.Fatalf("the probe should have found nothing; stderr:\n%s", stderr.String())
	}
	if strings.Contains(url, ":5432/") || !strings.HasSuffix(strings.SplitN(url, "?", 2)[0], "/civicpay_devdb_test") {
		t.Fatalf("url %q is not a private cluster's civicpay_devdb_test database", url)
	}
	var port string
	queryRow(t, url, "SHOW port", &port)
	if port == "5432" || port == "55432" {
		t.Fatalf("connected to port %s: the shared server or the squatted port, not a private cluster", port)
	}

	// A second call reuses the running cluster.
	again := exec.Command(script, "url", "civicpay_devdb_test")
	again.Env = env
	out, err := again.Output()
	if err != nil || strings.TrimSpace(string(out)) != url {
		t.Fatalf("second pg.sh url = %q, %v; want %q", out, err, url)
	}
}

func filteredEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "CIVICPAY_PG") {
			env = append(env, kv)
		}
	}
	return env
}

// TestServerThatWantsAPasswordIsPassedOver: a server answers on the probe but
// user postgres cannot log in without a password (as Debian's own cluster after
// `apt-get install postgresql`): pg.sh must not hand out a URL that cannot log
// in, and must use a private cluster instead.
func TestServerThatWantsAPasswordIsPassedOver(t *testing.T) {
	t.Parallel()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 || os.Geteuid() != 0 {
		t.Skip("needs PostgreSQL's initdb under /usr/lib/postgresql and root to run it as user postgres")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "civicpay-pwcluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte("not-empty\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	asPostgres := func(args ...string) {
		t.Helper()
		out, err := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command("chown", "-R", "postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	asPostgres(bin+"/initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256", "--pwfile="+pwfile, "-E", "UTF8", "--locale=C")
	port := freePort(t)
	asPostgres(bin+"/pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-o",
		"-p "+port+" -k "+dir+" -c listen_addresses=127.0.0.1", "start")
	t.Cleanup(func() {
		_ = exec.Command("runuser", "-u", "postgres", "--", bin+"/pg_ctl", "-D", data, "-m", "immediate", "stop").Run()
	})

	pgdata := filepath.Join(t.TempDir(), "pgdata")
	env := append(filteredEnv(), "CIVICPAY_PG_PROBE=127.0.0.1:"+port, "CIVICPAY_PGDATA="+pgdata)
	t.Cleanup(func() {
		stop := exec.Command("./pg.sh", "stop")
		stop.Env = env
		_ = stop.Run()
		if real, err := filepath.EvalSymlinks(pgdata); err == nil && real != pgdata {
			_ = os.RemoveAll(real)
		}
	})
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("./pg.sh", "url", "civicpay_devdb_pw")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg.sh url: %v\n%s", err, stderr.String())
	}
	url := strings.TrimSpace(stdout.String())
	if !strings.Contains(stderr.String(), "cannot log in without a password") || strings.Contains(url, ":"+port+"/") {
		t.Fatalf("pg.sh gave %q; stderr:\n%s", url, stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("the URL pg.sh gave does not work: %v", err)
	}
	conn.Close(ctx)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestScaleClusterRestartsWithItsSettings: `pg.sh scale` starts the scale
// bench's private cluster with the settings it is given (the seed's: no
// WAL for the bulk loads), a second call restarts it with the next ones
// (the measurements': initdb's wal_level), autovacuum stays off in both, and
// a setting that is not NAME=VALUE is refused before anything starts.
func TestScaleClusterRestartsWithItsSettings(t *testing.T) {
	t.Parallel()
	pgscale := filepath.Join(t.TempDir(), "pgscale")
	env := append(filteredEnv(), "CIVICPAY_PGSCALE="+pgscale)
	pgsh := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("./pg.sh", args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
		err := cmd.Run()
		return strings.TrimSpace(stdout.String()), stderr.String(), err
	}
	t.Cleanup(func() {
		if _, stderr, err := pgsh("scale-stop"); err != nil {
			t.Logf("pg.sh scale-stop: %v\n%s", err, stderr)
		}
		if real, err := filepath.EvalSymlinks(pgscale); err == nil && real != pgscale {
			_ = os.RemoveAll(real)
		}
	})
	settings := func(url string) (wal, autovacuum string) {
		t.Helper()
		queryRow(t, url, "SELECT current_setting('wal_level'), current_setting('autovacuum')", &wal, &autovacuum)
		return wal, autovacuum
	}

	if _, stderr, err := pgsh("scale", "wal_level"); err == nil || !strings.Contains(stderr, "not NAME=VALUE") {
		t.Fatalf("pg.sh scale wal_level: %v, want refused; stderr:\n%s", err, stderr)
	}
	seed, stderr, err := pgsh("scale", "wal_level=minimal", "max_wal_senders=0")
	if err != nil {
		t.Fatalf("pg.sh scale: %v\n%s", err, stderr)
	}
	if strings.Contains(seed, ":5432/") {
		t.Fatalf("pg.sh scale gave the shared server: %s", seed)
	}
	if wal, av := settings(seed); wal != "minimal" || av != "off" {
		t.Fatalf("seeding cluster: wal_level %s, autovacuum %s; want minimal, off", wal, av)
	}
	measure, stderr, err := pgsh("scale")
	if err != nil {
		t.Fatalf("pg.sh scale (restart): %v\n%s", err, stderr)
	}
	if wal, av := settings(measure); wal != "replica" || av != "off" {
		t.Fatalf("restarted cluster: wal_level %s, autovacuum %s; want replica, off", wal, av)
	}
}

// queryRow connects to url and scans the one row of sql into dest.
func queryRow(t *testing.T, url, sql string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
