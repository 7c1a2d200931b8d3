package app

import (
	"context"

	"github.com/civicpay/civicpay/ledger"
)

// wireLedger adds the ledger's sealing and snapshot jobs and its API (ledger
// accounts, balances, entries, and the revenue agencies query).
func (a *App) wireLedger(_ context.Context, w *wiring) error {
	ledger.AddWorkers(w.workers, a.Pool)
	w.periodic = append(w.periodic, ledger.PeriodicJobs()...)
	w.api = append(w.api, ledger.NewHandler(a.Pool, a.Log).WithRules(a.Config.ManualRules()).WithClock(a.Config.Clock))
	w.errors = append(w.errors, ledger.HTTPErrors...)
	return nil
}
