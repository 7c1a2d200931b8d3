package console

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestCleanup: the clean-up deletes every session and set-password link that
// can no longer be used and keeps the live ones; a second run, or two runs
// at once, delete nothing more.
func TestCleanup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	u, secret := e.user("clerk@stp.gov.vn", RoleAgency, "STP-HCM")
	now := e.clock.Now()

	// A session signed in through the pages, still live.
	b := e.browser()
	b.signIn(e, secret)

	sessions := []struct {
		name      string
		stage     string
		idle, abs time.Duration // from now
		revoked   bool
		kept      bool
	}{
		{"live", stageActive, 10 * time.Minute, 5 * time.Hour, false, true},
		{"live, idle expiry extended to the absolute one", stageActive, time.Minute, time.Minute, false, true},
		{"idle expired", stageActive, -time.Second, 5 * time.Hour, false, false},
		{"idle expiry just now", stageActive, 0, 5 * time.Hour, false, false},
		{"absolute expiry passed", stageActive, 10 * time.Minute, -time.Minute, false, false},
		{"revoked, not yet expired", stageActive, 10 * time.Minute, 5 * time.Hour, true, false},
		{"waiting for its code", stageMFA, 5 * time.Minute, 5 * time.Minute, false, true},
		{"code never given", stageMFA, -time.Minute, -time.Minute, false, false},
		{"enrolling", stageEnrol, 5 * time.Minute, 5 * time.Minute, false, true},
		{"enrolment abandoned", stageEnrol, -time.Hour, -time.Hour, false, false},
	}
	var wantSessions []string
	for _, s := range sessions {
		_, hash, err := newToken()
		if err != nil {
			t.Fatal(err)
		}
		var revoked *time.Time
		if s.revoked {
			revoked = &now
		}
		if _, err := e.pool.Exec(ctx, `INSERT INTO staff_sessions (token_hash, user_id, stage, created_at, last_seen_at,
			idle_expires_at, absolute_expires_at, user_agent, revoked_at) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)`,
			hash, u.ID, s.stage, now.Add(-time.Hour), now.Add(s.idle), now.Add(s.abs), s.name, revoked); err != nil {
			t.Fatal(err)
		}
		if s.kept {
			wantSessions = append(wantSessions, s.name)
		}
	}
	links := []struct {
		name string
		ttl  time.Duration
		used bool
		kept bool
	}{
		{"unused", 72 * time.Hour, false, true},
		{"used", 72 * time.Hour, true, false},
		{"expired", -time.Second, false, false},
		{"expiring just now", 0, false, false},
		{"used and expired", -time.Hour, true, false},
	}
	var wantLinks []string
	for _, l := range links {
		_, hash, err := newToken()
		if err != nil {
			t.Fatal(err)
		}
		var used *time.Time
		if l.used {
			used = &now
		}
		if _, err := e.pool.Exec(ctx, `INSERT INTO staff_password_tokens (token_hash, user_id, created_at, expires_at, used_at)
			VALUES ($1, $2, $3, $4, $5)`, hash, u.ID, now.Add(-time.Hour), now.Add(l.ttl), used); err != nil {
			t.Fatal(err)
		}
		if l.kept {
			wantLinks = append(wantLinks, l.name)
		}
	}
	// Links have no name of their own: count them.
	linkCount := func() int {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM staff_password_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := linkCount(); n != len(links) {
		t.Fatalf("%d links before the clean-up, want %d", n, len(links))
	}

	// A batch of 2: the clean-up takes several transactions.
	got, err := e.h.store.Cleanup(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Swept{Sessions: len(sessions) - len(wantSessions), Links: len(links) - len(wantLinks)}); got != want {
		t.Errorf("Cleanup = %+v, want %+v", got, want)
	}
	left := e.sessionNames(u.ID)
	// The signed-in browser's session (user agent "") is kept too.
	if want := append([]string{""}, wantSessions...); !sameSet(left, want) {
		t.Errorf("sessions left: %q, want %q", left, want)
	}
	if n := linkCount(); n != len(wantLinks) {
		t.Errorf("%d links left, want %d", n, len(wantLinks))
	}
	var unused int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM staff_password_tokens WHERE used_at IS NULL AND expires_at > $1`,
		now).Scan(&unused); err != nil {
		t.Fatal(err)
	}
	if unused != len(wantLinks) {
		t.Errorf("%d usable links left, want %d", unused, len(wantLinks))
	}

	// The browser is still signed in.
	if p := b.get("/console"); p.status != http.StatusOK {
		t.Errorf("GET /console after the clean-up: %d → %q, want 200", p.status, p.location)
	}

	// Again: nothing more to delete.
	again, err := e.h.store.Cleanup(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if again != (Swept{}) {
		t.Errorf("second Cleanup = %+v, want nothing", again)
	}
	if left2 := e.sessionNames(u.ID); !sameSet(left2, left) {
		t.Errorf("sessions after the second run: %q, want %q", left2, left)
	}
}

// TestCleanupConcurrent: two clean-ups at once (two instances' jobs) delete
// each dead row once between them, without error, and keep the live ones.
func TestCleanupConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	u, _ := e.user("treasurer@kbnn.gov.vn", RoleTreasury, "")
	now := e.clock.Now()
	const dead, live = 500, 7
	if _, err := e.pool.Exec(ctx, `INSERT INTO staff_sessions (token_hash, user_id, stage, created_at, last_seen_at,
			idle_expires_at, absolute_expires_at, user_agent)
		SELECT sha256(('dead' || g)::bytea), $1::uuid, 'active', $2::timestamptz, $2, $2, $3::timestamptz, 'dead' FROM generate_series(1, $4) g
		UNION ALL
		SELECT sha256(('live' || g)::bytea), $1::uuid, 'active', $2, $2, $3, $3, 'live' FROM generate_series(1, $5) g`,
		u.ID, now.Add(-time.Hour), now.Add(time.Hour), dead, live); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO staff_password_tokens (token_hash, user_id, created_at, expires_at)
		SELECT sha256(('link' || g)::bytea), $1, $2, $2 FROM generate_series(1, $3) g`, u.ID, now.Add(-time.Hour), dead); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	results := make([]Swept, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Another instance of the console on the same database, small batches.
			results[i], errs[i] = e.handler(nil).Store().Cleanup(ctx, 50)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if s, l := results[0].Sessions+results[1].Sessions, results[0].Links+results[1].Links; s != dead || l != dead {
		t.Errorf("the two runs deleted %d sessions and %d links between them (%+v), want %d of each", s, l, results, dead)
	}
	// The River worker, run once more: nothing left to do, no error.
	if err := (&CleanupWorker{Store: e.h.Store()}).Work(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var sessions, links int
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM staff_sessions WHERE user_agent = 'dead'),
		(SELECT count(*) FROM staff_password_tokens)`).Scan(&sessions, &links); err != nil {
		t.Fatal(err)
	}
	if sessions != 0 || links != 0 {
		t.Errorf("left after two concurrent runs: %d dead sessions, %d links, want none", sessions, links)
	}
	if got := e.sessionNames(u.ID); len(got) != live || slices.Contains(got, "dead") {
		t.Errorf("sessions left: %q, want the %d live ones", got, live)
	}
}

// sessionNames lists the user agents of the user's sessions (the tests name
// their sessions by user agent).
func (e *env) sessionNames(user uuid.UUID) []string {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT user_agent FROM staff_sessions WHERE user_id = $1`, user)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
