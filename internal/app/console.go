package app

import (
	"context"

	"github.com/civicpay/civicpay/console"
)

// wireConsole mounts the staff console (/console): staff accounts, sessions
// in the database, the dashboard (revenue through the ledger's own query).
func (a *App) wireConsole(_ context.Context, w *wiring) error {
	c := a.Config.Console
	h := console.New(a.Pool, a.DataKeys, console.Config{
		PublicURL: a.Config.PublicURL,
		Policy: console.Policy{IdleTimeout: c.IdleTimeout, AbsoluteTimeout: c.AbsoluteTimeout,
			LockoutAfter: c.LockoutAfter, Lockout: c.Lockout},
		LoginPerIP: c.LoginPerIP, LoginPerAccount: c.LoginPerAccount,
		Log: a.Log, Clock: a.Config.Clock,
	})
	w.public = append(w.public, h)
	return nil
}
