// Package reconciliation accounts for every day's money, line by line and
// settlement by settlement: it imports the gateways'
// settlement files and the treasury account's ISO 20022 statements, matches
// them against civicpay's attempts, refunds and ledger in PostgreSQL, records
// what the gateways confirm, posts settlements, and keeps every line that
// does not match as an exception for a person to resolve.
//
// # Files
//
// A file arrives by upload (POST /v1/statements), by the daily fetch, or by
// `civicpay reconcile import`. [Service.Import] streams it into the database
// (package rawfile: 1 MiB bytea chunks, compressed by PostgreSQL, SHA-256
// computed on the way; the raw file stays downloadable) and queues its load;
// the same bytes twice are the same file and change nothing. The load
// job ([Service.Load], package staging) parses the stored bytes as a stream
// and COPYs the lines into staging tables in one transaction: a file that
// does not parse, a settlement trailer that disagrees with its lines, a
// camt.053 whose balances or TxsSummry do not add up, or a settlement
// revision already loaded from other bytes is refused, with the reason, and
// nothing of it is staged. That is the strict rule, every source's by
// default; a source named in [Config].Tolerant is loaded under the tolerant
// rule instead, which loads a file whose own totals do not add up, flags it
// (File.Flags) and keeps the difference its lines do not explain, shown by
// [Service.FileDetail] (GET /v1/statements/{id}). Every bank entry keeps
// what the bank said of it beyond the matched columns ([Service.FileEntries],
// GET /v1/statements/{id}/entries). A camt.052 intraday report is staged
// apart and feeds no run: it is the day's live position
// ([Service.IntradayPositions], GET /v1/reconciliation/positions).
//
// A file uploaded with preview=true ([Service.ImportForPreview]) is held:
// stored, never loaded until a treasury key commits it ([Service.Commit],
// audited). A job ([PreviewArgs]) stages and matches it in a transaction that
// it rolls back and keeps the result with the file ([Preview]: the rule, what
// would be refused or flagged, the revision it would replace, the class
// totals and first exceptions of the run it would feed, the bank credit
// already paying its day). Progress (lines staged) is in the file's lines_done and in the log
// every 50,000 lines. A gateway may issue a corrected file for a day (a new
// revision of its settlement file id): both are kept, and runs use the latest.
//
// # Runs
//
// A run reconciles one source — a gateway's settlement file, or the bank
// account — for one business day (GMT+7). Loading a file queues the runs it
// feeds; the daily job ([DayArgs], at the configured cut-off) fetches the
// previous day's files and queues a run of every source; `civicpay reconcile
// --date` queues the same job. A run ([Service.Execute]) has three stages, each
// safe to repeat, and resumes where it stopped:
//
//   - matching, in one transaction, set-based (package matcher): every line
//     is classified into one [matcher.Class]; what is not a plain match by
//     reference is written to recon_items, with our records that the
//     statement lacks (a million-line file that agrees writes a few hundred
//     rows: a line without an item matched, and the run's totals count it
//     from the file's trailer). Totals per class are kept and the items
//     become exceptions (recon_exceptions, keyed by what they are, so a
//     second run updates rather than duplicates them, and clears those it
//     no longer sees);
//   - resolving: a line paid at the gateway and not here (missing_here) is
//     confirmed — by a status query to the gateway, or for a VietQR transfer
//     by the bank's credit itself — and recorded through the payment flow's
//     normal paid path ([Recorder]); its exception is then auto-resolved;
//   - posting: the day's settlement (Dr treasury bank, Dr gateway fees, Cr
//     gateway clearing) once the bank's credit matches the net of the latest
//     revision, under a ledger key of the gateway and day, so it is posted
//     once; for the bank, each VietQR credit moves its amount from the VietQR
//     clearing account to the treasury account, and each credit nobody
//     claims goes to suspense, once per bank entry (recon_bank_postings).
//
// # Settlements
//
// A gateway's transfer into the treasury account names its settlement file
// id in the remittance information; when it does not, it is paired by amount
// with the one loaded, unpaid file of the credit's day or the
// [Config].SettlementDays before. A credit that arrives before its file waits
// (its exception is missing_here, auto-resolved when the file arrives and
// matches); a file the bank has not paid SettlementDays after its day is
// missing_there.
//
// # Working exceptions
//
// Treasury works the exceptions in a queue (queue.go; the console's
// /console/reconciliation/exceptions): filtered by class, source, state, age
// and assignee; acknowledged, assigned, noted, snoozed until a day, resolved
// (alone or a selection at once, each recorded on its own) and reopened.
// Resolutions that do something (resolution.go) match a line or a credit by
// hand to one or several records, move a credit out of suspense to orders or
// back to its sender, write off a small difference (a line's gross, or its
// fee over the contract: from the gateway's fees to the write-off account,
// within the limit; "written_off" is not recorded without it) or accept a
// gateway's fee: each pays through the payment flow's paid path and posts its ledger entry
// once (recon_resolutions links the exception to its entries), taking effect
// now, never in a closed day; one that moves more than the configured amount
// waits for a second treasury user. Every change is one transaction with its
// event and its audit row.
//
// # Days
//
// Treasury works business days (dayview.go; the console's
// /console/reconciliation): a month's calendar of day states (not run,
// exceptions open, balanced, closed), and a day with its sources (files
// received or missing, lines, counts per class), the settlement chain from
// the bank's credit to the gateway's file, its lines and our attempts and
// orders, and the "both sides agree" check per gateway (ours against the
// file against the bank). A day closes ([Service.CloseDay]) once it is over,
// every source has a completed run and no exception holds it open: one
// still unresolved may be carried forward with a note ([Service.CarryForward]:
// it stays open, in the queue, but no longer holds its day). The closing
// records who closed it and the day's totals ([DayTotals], kept with the
// ledger's closing), is audited, and publishes reconciliation.day_closed in
// its transaction; its report is a PDF or an XLSX workbook
// ([Service.DayReport]). From then no entry takes effect in the day (the
// ledger's rule), and its reconciliation does not change: a run request of
// it (API, CLI) and a file whose own business date or booking day it is
// (upload, console, fetch) are refused (ledger.ErrDayClosed, 409); the day
// job, a file's load and each stage of a run queued before the closing
// complete without changing it and say why (the run fails with the reason,
// the file stays received with it). Each check is made in the transaction
// that would change the day, under CloseDay's lock of the day (taken
// shared: only a closing takes it alone). Reopening it takes two people: one asks, another approves,
// and the approval deletes the closing in its own transaction, the only one
// the database lets delete it (ledger/reopen.go, migration 00030).
//
// # Money
//
// Amounts are decimal, never floats, signed from civicpay's side in items (a
// refund or a debit is negative). Business days are GMT+7 (internal/foundation/bizday), fixed
// without tzdata.
package reconciliation
