// Package pgtest gives each test its own real, migrated PostgreSQL database.
//
// The first call in a test binary makes (once per distinct set of migrations, across
// all processes) a template database migrated with River's and civicpay's
// migrations; every test then gets `CREATE DATABASE … TEMPLATE` — a file copy that
// takes tens of milliseconds — and the database is dropped WITH (FORCE) on cleanup.
// The server is DATABASE_URL when set, else postgres@127.0.0.1:5432.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/migrations"
)

// ServerURL is the server tests run against: DATABASE_URL, else the local default.
func ServerURL() string { return db.ServerURL() }

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// New returns a pool on a fresh migrated database that is dropped when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := NewWithURL(t)
	return pool
}

// NewWithURL is New that also returns the database's URL (for subprocesses).
func NewWithURL(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(context.Background(), ServerURL()) })
	if templateErr != nil {
		t.Fatalf("pgtest: template database: %v", templateErr)
	}
	name := createDatabase(t, ServerURL(), templateName)
	dbURL := db.WithDatabase(ServerURL(), name)
	// Small pools: many test databases live at once on one server (max_connections).
	pool, err := db.Open(context.Background(), dbURL, db.Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", name, err)
	}
	t.Cleanup(pool.Close)
	return pool, dbURL
}

// NewEmpty creates an empty, unmigrated database and returns its URL.
func NewEmpty(t testing.TB) string {
	t.Helper()
	return db.WithDatabase(ServerURL(), createDatabase(t, ServerURL(), "template0"))
}

func createDatabase(t testing.TB, server, template string) string {
	t.Helper()
	ctx := context.Background()
	name := "civicpay_t_" + randomSuffix()
	admin := adminConn(t, server)
	defer admin.Close(ctx)
	var err error
	for i := 0; i < 50; i++ {
		_, err = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" { // template busy: retry
			time.Sleep(20 * time.Millisecond)
			continue
		}
		break
	}
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c := adminConn(t, server)
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	return name
}

func adminConn(t testing.TB, server string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), server)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v (is PostgreSQL running? `make test` starts one)", redact(server), err)
	}
	return c
}

// ensureTemplate builds the template for the current migrations once across all
// concurrently running test processes (an advisory lock serialises them).
func ensureTemplate(ctx context.Context, server string) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "civicpay_tpl_" + sum
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(server), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7246001)"); err != nil {
		return "", err
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock(7246001)") //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_wip"
	if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building)); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE template0", building)); err != nil {
		return "", err
	}
	pool, err := db.Open(ctx, db.WithDatabase(server, building), db.Options{MaxConns: 4})
	if err != nil {
		return "", err
	}
	err = migrations.Up(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	// Renaming makes the finished template appear atomically to other processes.
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func migrationsHash() (string, error) {
	h := sha256.New()
	fsys := migrations.FS()
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	// River's own migrations are part of the module version pinned in go.mod.
	h.Write([]byte(riverVersion))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

const riverVersion = "river-v0.51.1"

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return strings.Replace(p.Redacted(), "xxxxx", "***", 1)
}
