// Package clock is the time civicpay's business decisions are made at: an
// order's or an attempt's expiry, the business day a payment falls in,
// whether a day is over and may close, a webhook endpoint failing long
// enough to be disabled, a rotated secret's grace. Services hold a Clock
// (Config.Clock in internal/app/config, handed down by internal/app); functions
// below them take the time as a parameter (`now time.Time`), and SQL that
// decides by time is given that parameter instead of calling now().
//
// It is not for everything that reads the time. These keep the wall clock
// (time.Now): durations and deadlines (timeouts, latency metrics, the
// breakers' windows), rate limits and caches, River's own scheduling (a
// job's retry time and snooze are measured by River against the database's
// clock), timestamps another party checks against its own clock (the
// Standard Webhooks signature timestamp, a gateway request's date), and
// rows the database stamps for the record (updated_at, the ledger's
// recorded_at, which a trigger requires to be the transaction's now()).
//
// The shape follows River's: its services share one time generator
// (baseservice.Archetype.Time, rivertype.TimeGenerator) with a stub for
// tests (river.Config.Test.Time), rather than each calling time.Now.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time business decisions are made at.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock: time.Now, monotonic reading included.
var Real Clock = wall{}

type wall struct{}

func (wall) Now() time.Time { return time.Now() }

// Or is c, or Real when c is nil: what a service uses when its
// configuration names no clock.
func Or(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// Fake is a clock a test sets. A stopped Fake reads what it was set to until
// it is set again or advanced; a running one moves on with the wall clock
// from there, so a whole application running on it sees time pass (orders
// created one after the other, each request's time distinct) while the test
// decides which day it is. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	at      time.Time // the reading when set
	setAt   time.Time // wall time when set (running only)
	running bool
}

// NewFake returns a stopped clock reading at.
func NewFake(at time.Time) *Fake { return &Fake{at: at} }

// NewRunning returns a clock reading at now and moving on with the wall clock.
func NewRunning(at time.Time) *Fake { return &Fake{at: at, setAt: time.Now(), running: true} }

// Now implements Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		return f.at.Add(time.Since(f.setAt))
	}
	return f.at
}

// Set makes the clock read t now (a running clock moves on from t).
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at, f.setAt = t, time.Now()
}

// Advance moves the clock d forward (backward if d is negative) and returns
// what it reads then.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		f.at, f.setAt = f.at.Add(time.Since(f.setAt)), time.Now()
	}
	f.at = f.at.Add(d)
	return f.at
}
