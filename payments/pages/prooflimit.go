package pages

import (
	"sync"
	"time"
)

// proofLimiter counts failed proofs of possession per payment reference, in
// this process's memory: after Max failures within Window, every proof for that
// reference — right or wrong — is refused until the oldest failure is older
// than Window. It is deliberately small and local (general per-IP limits are
// the server's); being in memory, each instance counts on its own and a restart
// forgets, which bounds a guesser only per instance and per window.
//
// The table holds at most maxRefs references; when it is full of live entries
// new references are refused (fail closed) rather than forgetting someone's
// failures.
type proofLimiter struct {
	max     int
	window  time.Duration
	maxRefs int
	now     func() time.Time

	mu    sync.Mutex
	fails map[string][]time.Time // oldest first, at most max entries
}

func newProofLimiter(limit int, window time.Duration, maxRefs int) *proofLimiter {
	return &proofLimiter{max: limit, window: window, maxRefs: maxRefs, now: time.Now, fails: map[string][]time.Time{}}
}

// live drops ref's failures older than the window; the caller holds mu.
func (l *proofLimiter) live(ref string, now time.Time) []time.Time {
	f := l.fails[ref]
	i := 0
	for i < len(f) && !now.Before(f[i].Add(l.window)) {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, ref)
		return nil
	}
	l.fails[ref] = f
	return f
}

// allow reports whether a proof for ref may be checked now; when it may not,
// retryAfter is how long until it may.
func (l *proofLimiter) allow(ref string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.live(ref, now)
	if len(f) >= l.max {
		return false, f[0].Add(l.window).Sub(now)
	}
	if f == nil && len(l.fails) >= l.maxRefs {
		for r := range l.fails {
			l.live(r, now)
		}
		if len(l.fails) >= l.maxRefs {
			return false, l.window
		}
	}
	return true, 0
}

// fail records a failed proof for ref.
func (l *proofLimiter) fail(ref string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := append(l.live(ref, now), now)
	if len(f) > l.max {
		f = f[len(f)-l.max:]
	}
	l.fails[ref] = f
}
