// Package gatewaysim plays the other side of civicpay's payment gateways over
// real HTTP: VNPAY, MoMo and ZaloPay as their published protocols describe them,
// and the treasury bank that their settlements and the citizens' VietQR
// transfers arrive in. cmd/gatewaysim serves it; other packages' tests run
// it in process:
//
//	sim, err := gatewaysim.New(gatewaysim.DemoConfig(civicpayURL))
//	srv := httptest.NewServer(sim.Handler())
//	defer sim.Close() // stops callbacks in flight
//
// It signs and verifies with the adapters' own helpers (vnpay.Sign,
// momo.Signature, zalopay.MAC, ...), so what it accepts and sends is what
// the adapters in gateways/ send and accept, byte for byte. State is in
// memory, behind one mutex. With Config.DataDir it is durable as a real
// gateway's is: every change a client could see (a payment created, paid,
// declined, expired or refunded, a transfer, a settlement file or payout, a
// callback due) is appended to a log in that directory and synced before
// anything that shows it is answered or sent, concurrent changes sharing one
// fsync; a kill -9 loses nothing that was answered. New replays the
// snapshot (gatewaysim.json) and the log after it, ignoring a line a crash
// cut, and sends again the callbacks still owed. Compaction (Close, POST
// /admin/save, periodically in cmd/gatewaysim, and after 64 MiB of log)
// writes the snapshot and drops the log before it.
//
// # Gateways
//
// Point an adapter's BaseURL at <sim>/vnpay, <sim>/momo or <sim>/zalopay.
//
//   - VNPAY: GET /vnpay/paymentv2/vpcpay.html?... verifies the signed
//     payment URL and shows the pay page; the payment then exists (VNPAY's
//     create makes no call). IPNs go by GET to Config.VNPAY.IPNURL (the
//     payment URL carries none). POST /vnpay/merchant_webapi/api/transaction
//     answers querydr and refund, every answer signed, error codes included
//     (02 terminal, 03 format, 91 not found, 94 duplicate refund request,
//     95 payment not successful, 97 checksum, 99 refund beyond the amount).
//     vnp_TransactionStatus is 01 pending, 02 failed, 00 paid, 06 paid with
//     refunds sent to the bank.
//   - MoMo: POST /momo/v2/gateway/api/{create,query,refund}; payUrl (and
//     qrCodeUrl) is /momo/pay/{orderId}; the IPN is POSTed as JSON to the
//     order's ipnUrl, for failures too. Codes: 13 authentication, 20 bad
//     request, 22 amount out of range, 40/41 duplicate requestId/orderId
//     (a refund's orderId is its idempotency key), 42 unknown order or
//     transId, 1000 pending, 1001–1006 declines, 1080 refund of an
//     unsuccessful payment, 1081 refund beyond the amount.
//   - ZaloPay: POST /zalopay/v2/{create,query,refund,query_refund} (JSON);
//     order_url (and qr_code) is /zalopay/pay/{app_trans_id}; the callback
//     {"data","mac","type":1} (mac keyed with key2) goes to the order's
//     callback_url, or Config.ZaloPay.CallbackURL, for successful payments
//     only. return_code 1 ok, 2 failed, 3 pending; the reason of a 2 is in
//     sub_return_code (values unconfirmed: -401 invalid data, -402 app_id
//     or mac, -68 duplicate id, -92 not found, -53 not paid, -13 refund
//     beyond the amount, -54 expired, -49 declined). A request error is
//     answered return_code 2, as a failed payment is. The same m_refund_id
//     asked again is answered as the first time and refunds nothing more.
//   - VietQR has no gateway: a transfer is a credit on the treasury account
//     (POST /admin/transfer), seen in camt.054 and camt.053.
//
// Each payment page (GET /{gateway}/pay/{ref}) shows the order, in
// Vietnamese or English, with two buttons in a plain form (no JavaScript):
// POST /{gateway}/pay/{ref} outcome=success|decline completes the payment,
// sends the callback and redirects the browser (303) to the merchant's
// return URL with the signed result. A payment can be completed once; a
// pending one fails when its window closes (VNPAY vnp_ExpireDate, MoMo
// Config.MoMo.OrderExpiry, ZaloPay expire_duration_seconds or 15 minutes).
//
// Callbacks are sent in the background, each attempt under its own
// deadline (Config.Callbacks.Timeout), and retried with doubling backoff up
// to Config.Callbacks.Attempts tries while the merchant does not
// acknowledge: VNPAY stops on RspCode 00 or 02 and gives up on 01, 04 and
// 97; MoMo stops on a 2xx and gives up on a 4xx; ZaloPay stops on
// return_code 1 or 2 and gives up on a negative one.
//
// # Admin API
//
// JSON in and out; errors are {"error": "..."} with 400, 404 or 409.
//
//	POST /admin/pay          PayRequest {"gateway","ref"|"pay_url","outcome":"success"|"decline","code"?}
//	                         → PayResult {"transaction": Transaction, "redirect_url"}
//	GET  /admin/transactions ?gateway=&ref=&status=&limit= → {"transactions": [Transaction]}
//	POST /admin/transfer     TransferRequest {"reference","amount"|"qr","text"?,"payer"?,"booked_at"?} → 201 Transfer
//	GET  /admin/transfers    → {"transfers": [Transfer]}
//	GET  /admin/faults       → {"vnpay": Faults, "momo": Faults, "zalopay": Faults}
//	GET  /admin/faults/{gateway}, POST /admin/faults/{gateway} Faults (replaces; {} clears) → Faults
//	GET  /admin/callbacks    ?gateway=&ref=&wait=2s → {"in_flight": n, "attempts": [CallbackAttempt]}
//	GET  /admin/settlements  → {"files": [SettlementInfo]}
//	GET  /admin/settlements/{gateway}/{yyyy-mm-dd} ?revision=N → the CSV (header X-Settlement-File-Id)
//	POST /admin/settlements/{gateway}/{yyyy-mm-dd}/revise → 201 SettlementInfo (a corrected revision)
//	GET  /admin/discrepancies → Discrepancies
//	POST /admin/discrepancies/{gateway} FileDiscrepancies {"drop_line","duplicate_line","alter_fee","fee_delta"}
//	POST /admin/discrepancies/bank BankDiscrepancies {"omit_settlement":[gateway],"unknown_credit","unknown_credit_text"}
//	POST /admin/save         → 204: compacts the state (409 without a data dir)
//
// For VNPAY, pay_url may be the signed payment URL the adapter built: the
// simulator opens it as the browser would, then completes it, so a load
// test needs one call per payment. Client calls the admin API from Go.
//
// # Faults
//
// Faults are set per gateway at run time (see Faults): latency with
// jitter, a rate of API calls answered 503, a rate that hang past any
// client timeout, a rate carried out whose answer is lost (the retry meets
// a duplicate), and for callbacks a drop rate, N copies (one after another
// or all at once), a delay and a rate signed with the wrong key.
//
// # Settlement files and the treasury bank
//
// GET /admin/settlements/{gateway}/{day} is the gateway's settlement file
// for a business day (GMT+7) in reconciliation/statement's layout: one line
// per successful payment (fee Config.<Gateway>.Fee, percent rounded to
// whole VND plus fixed) and per refund (no fee) of that day. The first
// request issues revision 1; an issued file never changes; /revise issues
// the next revision from the current state. Discrepancies armed with POST
// /admin/discrepancies/{gateway} go into the next file issued for that
// gateway only.
//
// Each gateway pays a day's net into the treasury account
// Config.Bank.SettlementLagDays later (1 in the demo), as one credit whose
// RmtInf/Ustrd carries the settlement file id among bank noise (a debit
// when the net is negative); the amount is the net of the latest revision
// at the time the payout is first needed, and never changes after.
// GET /bank/statements/camt053/{day} is camt.053.001.08 of the day: those
// settlement credits and the transfers booked that day, opening with
// Config.Bank.OpeningBalance plus everything booked before, so that each
// day opens at the previous day's close. GET /bank/notifications/camt054
// ?since=RFC3339&limit=N is camt.054.001.08 of the transfers booked after
// since. Days that have not started are refused.
//
// # Demo configuration
//
// DemoConfig holds the demo credentials below (internal/app/demo). The service
// takes the same values in development mode (CIVICPAY_ENV=development) for
// every one of these environment variables left unset, and refuses the
// credentials in production; DemoEnv prints them, with base URLs for a
// simulator at http://127.0.0.1:8090:
//
//	CIVICPAY_VNPAY_BASE_URL=http://127.0.0.1:8090/vnpay
//	CIVICPAY_VNPAY_TMN_CODE=CIVICPAY
//	CIVICPAY_VNPAY_HASH_SECRET=DEMOVNPAYHASHSECRETDEMOVNPAYHASH
//	CIVICPAY_MOMO_BASE_URL=http://127.0.0.1:8090/momo
//	CIVICPAY_MOMO_PARTNER_CODE=MOMOCIVICPAY2026
//	CIVICPAY_MOMO_ACCESS_KEY=DEMOMOMOACCESSK
//	CIVICPAY_MOMO_SECRET_KEY=DEMOMOMOSECRETKEYDEMOMOMOSECRETK
//	CIVICPAY_ZALOPAY_BASE_URL=http://127.0.0.1:8090/zalopay
//	CIVICPAY_ZALOPAY_APP_ID=2554
//	CIVICPAY_ZALOPAY_KEY1=DEMOZALOPAYKEY1DEMOZALOPAYKEY1AA
//	CIVICPAY_ZALOPAY_KEY2=DEMOZALOPAYKEY2DEMOZALOPAYKEY2BB
//	CIVICPAY_VIETQR_BANK_BIN=970436
//	CIVICPAY_VIETQR_ACCOUNT=0011004123456
//	CIVICPAY_RECON_SETTLEMENT_URL=http://127.0.0.1:8090/admin/settlements/{gateway}/{date}
//	CIVICPAY_RECON_STATEMENT_URL=http://127.0.0.1:8090/bank/statements/camt053/{date}
//
// Callbacks go to the service's public URL + CallbackPath: /callbacks/vnpay
// (VNPAY's IPN URL, and ZaloPay's default callback URL). Demo fees: VNPAY
// 1.1% + 1,650 VND, MoMo 1.5%, ZaloPay 1% (as CIVICPAY_RECON_FEES expects).
// These are demo values, not secrets; a simulator never holds real
// credentials.
package gatewaysim
