package app

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"

	"github.com/civicpay/civicpay/console"
)

// wireConsole mounts the staff console (/console): staff accounts, sessions
// in the database, the dashboard (revenue through the ledger's own query),
// and the hourly job that deletes dead sessions and set-password links.
// River's job UI is given to it by wireJobsUI, once the River client exists.
func wireConsole(f *foundation, w *wiring, d console.Deps) *console.Handler {
	c := f.cfg.Console
	h := console.New(f.pool, f.keys, console.Config{
		PublicURL: f.cfg.PublicURL,
		Policy: console.Policy{IdleTimeout: c.IdleTimeout, AbsoluteTimeout: c.AbsoluteTimeout,
			LockoutAfter: c.LockoutAfter, Lockout: c.Lockout},
		LoginPerIP: c.LoginPerIP, LoginPerAccount: c.LoginPerAccount,
		Log: f.log, Clock: f.clock, SetupLinkTTL: c.SetupLinkTTL, KeyDefaultTTL: f.cfg.KeyDefaultTTL,
	})
	h.SetDeps(d)
	river.AddWorker(w.workers(), &console.CleanupWorker{Store: h.Store(), Log: f.log})
	w.periodic = append(w.periodic, console.CleanupPeriodic(console.CleanupInterval))
	w.public = append(w.public, h)
	return h
}

// wireJobsUI builds River's job UI on rc and mounts it in the console at
// /console/jobs (admins only, console.Handler.SetJobs). Its background
// services (cached counts) run with the app's other background loops.
func wireJobsUI(f *foundation, h *console.Handler, rc *river.Client[pgx.Tx]) ([]func(context.Context), error) {
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(rc, nil),
		Logger:    quietRiver(f.log),
		Prefix:    console.JobsPrefix,
		// Job arguments hold order references: shown on demand, not in lists.
		JobListHideArgsByDefault: true,
	})
	if err != nil {
		return nil, fmt.Errorf("app: river UI: %w", err)
	}
	h.SetJobs(ui)
	return []func(context.Context){func(ctx context.Context) {
		if err := ui.Start(ctx); err != nil {
			f.log.ErrorContext(ctx, "app: river UI did not start", "err", err)
			return
		}
		<-ctx.Done()
	}}, nil
}
