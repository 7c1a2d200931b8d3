package app

import (
	"github.com/civicpay/civicpay/ledger"
)

// wireLedger adds the ledger's sealing and snapshot jobs and its API (ledger
// accounts, balances, entries, and the revenue agencies query).
func wireLedger(f *foundation, w *wiring) {
	ledger.AddWorkers(w.workers(), f.pool)
	w.periodic = append(w.periodic, ledger.PeriodicJobs()...)
	w.api = append(w.api, ledger.NewHandler(f.pool, f.log).WithRules(f.cfg.ManualRules()).WithClock(f.clock).
		WithReports(f.reads.ForReports))
	w.errors = append(w.errors, ledger.HTTPErrors...)
}
