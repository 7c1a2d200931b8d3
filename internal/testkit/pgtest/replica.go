package pgtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/foundation/db"
	"github.com/civicpay/civicpay/internal/testkit/devdb"
)

// Replicated is a fresh migrated database on a private primary, and the URL
// of the same database on that primary's streaming replica.
type Replicated struct {
	Primary    *pgxpool.Pool
	PrimaryURL string
	ReplicaURL string
	// ReplicaAdmin is the replica's postgres database, to pause and resume
	// its replay (pg_wal_replay_pause) and to ask its lag.
	ReplicaAdmin string
}

var (
	pairOnce                 sync.Once
	pairPrimary, pairReplica string
	pairErr                  error
	pairTemplateOnce         sync.Once
	pairTemplate, pairTplErr = "", error(nil)
)

// NewReplicated starts (once per test binary, and reused across binaries)
// a private primary and its streaming replica with devdb's pg.sh — initdb,
// then pg_basebackup -R into a second cluster on another port — and gives
// the test its own migrated database there, dropped when the test ends. It
// returns once the replica has the database.
func NewReplicated(t testing.TB) Replicated {
	t.Helper()
	pairOnce.Do(func() { pairPrimary, pairReplica, pairErr = startPair() })
	if pairErr != nil {
		t.Fatalf("pgtest: replica pair: %v", pairErr)
	}
	pairTemplateOnce.Do(func() { pairTemplate, pairTplErr = ensureTemplate(context.Background(), pairPrimary) })
	if pairTplErr != nil {
		t.Fatalf("pgtest: template on the replica pair's primary: %v", pairTplErr)
	}
	name := createDatabase(t, pairPrimary, pairTemplate)
	r := Replicated{PrimaryURL: db.WithDatabase(pairPrimary, name), ReplicaURL: db.WithDatabase(pairReplica, name),
		ReplicaAdmin: pairReplica}
	pool, err := db.Open(context.Background(), r.PrimaryURL, db.Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", name, err)
	}
	t.Cleanup(pool.Close)
	r.Primary = pool
	// The replica replays CREATE DATABASE a moment later.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := pgx.Connect(context.Background(), r.ReplicaURL)
		if err == nil {
			c.Close(context.Background())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgtest: the replica never had %s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

// startPair runs `pg.sh replica`, which prints the primary's and the
// replica's admin URLs.
func startPair() (primary, replica string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, _, err := devdb.PgSh(ctx, "replica")
	if err != nil {
		return "", "", err
	}
	lines := strings.Fields(out)
	if len(lines) != 2 {
		return "", "", fmt.Errorf("pg.sh replica printed %q", out)
	}
	return lines[0], lines[1], nil
}
