// Package benchutil holds what the `make bench` programs share: a scratch
// database on the configured server, latency percentiles, the `bench` output
// line, and pgbench as the yardstick measured in the same run.
package benchutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/migrations"
)

// Scratch is a migrated database that Drop removes.
type Scratch struct {
	Name     string
	URL      string
	Pool     *pgxpool.Pool
	server   string // the server's admin URL
	maxConns int32
}

// NewScratch creates and migrates a database named civicpay_bench_<prefix>_<random>
// on the configured server (DATABASE_URL).
func NewScratch(ctx context.Context, prefix string, maxConns int32) (*Scratch, error) {
	return NewScratchOn(ctx, db.ServerURL(), prefix, maxConns)
}

// NewScratchOn is NewScratch on the server of admin URL server.
func NewScratchOn(ctx context.Context, server, prefix string, maxConns int32) (*Scratch, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "civicpay_bench_" + prefix + "_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	s := &Scratch{Name: name, server: server, maxConns: maxConns}
	if err := s.Reopen(ctx, server); err != nil {
		return nil, err
	}
	if err := migrations.Up(ctx, s.Pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return nil, err
	}
	// Write out what earlier benchmarks left dirty in shared buffers, so that
	// their checkpoint does not land in this one's measurement. (Only a
	// superuser or pg_checkpoint may; without it the run goes on.)
	if _, err := s.Pool.Exec(ctx, "CHECKPOINT"); err != nil {
		Progress("no checkpoint before measuring: %v", err)
	}
	return s, nil
}

// Reopen opens a new pool on the database at the server of admin URL
// server (the same server after a restart, perhaps on another port),
// closing the old pool first.
func (s *Scratch) Reopen(ctx context.Context, server string) error {
	if s.Pool != nil {
		s.Pool.Close()
	}
	s.server, s.URL = server, db.WithDatabase(server, s.Name)
	var err error
	s.Pool, err = db.Open(ctx, s.URL, db.Options{MaxConns: s.maxConns})
	return err
}

// Drop closes the pool and removes the database.
func (s *Scratch) Drop() {
	s.Pool.Close()
	ctx := context.Background()
	if admin, err := pgx.Connect(ctx, s.server); err == nil {
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+s.Name+" WITH (FORCE)")
		admin.Close(ctx)
	}
}

// DropScratches drops every scratch database (civicpay_bench_*) on the
// server of admin URL server, with a progress line each.
func DropScratches(ctx context.Context, server string) error {
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'civicpay\_bench\_%' ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("list scratch databases: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list scratch databases: %w", err)
	}
	for _, n := range names {
		Progress("dropping %s, left by an earlier run", n)
		if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop %s: %w", n, err)
		}
	}
	return nil
}

// Line prints one result as `bench <name> <value> <unit>`.
func Line(name string, value float64, unit string) {
	fmt.Printf("bench %s %s %s\n", name, strconv.FormatFloat(value, 'f', -1, 64), unit)
}

// Progress prints a progress line on stderr.
func Progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Percentile returns the p-th percentile (0..100) of durations, in milliseconds.
func Percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return float64(s[i].Microseconds()) / 1000
}

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// PgbenchInsertTPS runs pgbench with a single-row INSERT transaction into an
// unindexed-but-for-its-key table on the scratch database, at the given client
// count, and returns its transactions per second.
func PgbenchInsertTPS(ctx context.Context, s *Scratch, clients int, d time.Duration) (float64, error) {
	if _, err := s.Pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS pgbench_insert (id bigserial PRIMARY KEY, payload text, created_at timestamptz DEFAULT now())`); err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "pgbench")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "insert.sql")
	if err := os.WriteFile(script, []byte("INSERT INTO pgbench_insert (payload) VALUES ('order');\n"), 0o644); err != nil {
		return 0, err
	}
	u, _ := url.Parse(s.URL)
	args := []string{"-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(int(d.Seconds())), "-f", script,
		"-h", u.Hostname(), "-p", u.Port(), "-U", u.User.Username(), s.Name}
	out, err := exec.CommandContext(ctx, "pgbench", args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench: no tps in output:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
