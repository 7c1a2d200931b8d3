package app

import (
	"github.com/civicpay/civicpay/console"
)

// wireConsole mounts the staff console (/console): staff accounts, sessions
// in the database, the dashboard (revenue through the ledger's own query).
func wireConsole(f *foundation, w *wiring) {
	c := f.cfg.Console
	h := console.New(f.pool, f.keys, console.Config{
		PublicURL: f.cfg.PublicURL,
		Policy: console.Policy{IdleTimeout: c.IdleTimeout, AbsoluteTimeout: c.AbsoluteTimeout,
			LockoutAfter: c.LockoutAfter, Lockout: c.Lockout},
		LoginPerIP: c.LoginPerIP, LoginPerAccount: c.LoginPerAccount,
		Log: f.log, Clock: f.clock,
	})
	w.public = append(w.public, h)
}
