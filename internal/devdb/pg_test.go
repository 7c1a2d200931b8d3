package devdb_test

import (
	"bytes"
	"context"
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var port string
	if err := conn.QueryRow(ctx, "SHOW port").Scan(&port); err != nil {
		t.Fatal(err)
	}
	if port == "5432" {
		t.Fatalf("connected to the shared server, not a private cluster")
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
