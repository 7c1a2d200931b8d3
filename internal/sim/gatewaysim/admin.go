package gatewaysim

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// The admin API: small JSON endpoints over the Sim methods of the same
// names (see the package documentation). Errors are {"error": "..."} with
// 400 (bad input), 404 (unknown gateway, payment or file) or 409 (payment
// already final or expired, refund over the amount, no data dir).

// armed answers the discrepancy switches.
type armed struct {
	Armed         Discrepancies `json:"armed"`
	UnknownCredit *Transfer     `json:"unknown_credit"`
}

func (s *Sim) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/pay", jsonCall(http.StatusOK, func(_ *http.Request, req PayRequest) (PayResult, error) {
		return s.Pay(req)
	}))
	mux.HandleFunc("GET /admin/transactions", s.adminTransactions)
	mux.HandleFunc("POST /admin/transfer", jsonCall(http.StatusCreated, func(_ *http.Request, req TransferRequest) (Transfer, error) {
		return s.Transfer(req)
	}))
	mux.HandleFunc("GET /admin/transfers", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string][]Transfer{"transfers": s.Transfers()})
	})
	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.AllFaults())
	})
	mux.HandleFunc("GET /admin/faults/{gateway}", s.adminGetFaults)
	mux.HandleFunc("POST /admin/faults/{gateway}", jsonCall(http.StatusOK, func(r *http.Request, f Faults) (Faults, error) {
		return f, s.SetFaults(r.PathValue("gateway"), f) // replaces the gateway's faults; {} clears them
	}))
	mux.HandleFunc("GET /admin/callbacks", s.adminCallbacks)
	mux.HandleFunc("GET /admin/settlements", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string][]SettlementInfo{"files": s.Settlements()})
	})
	mux.HandleFunc("GET /admin/settlements/{gateway}/{day}", s.adminSettlement)
	mux.HandleFunc("POST /admin/settlements/{gateway}/{day}/revise", s.adminRevise)
	mux.HandleFunc("GET /admin/discrepancies", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Discrepancies())
	})
	mux.HandleFunc("POST /admin/discrepancies/bank", jsonCall(http.StatusOK, func(_ *http.Request, d BankDiscrepancies) (armed, error) {
		credit, err := s.SetBankDiscrepancies(d)
		return armed{s.Discrepancies(), credit}, err
	}))
	mux.HandleFunc("POST /admin/discrepancies/{gateway}", jsonCall(http.StatusOK, func(r *http.Request, d FileDiscrepancies) (armed, error) {
		err := s.SetFileDiscrepancies(r.PathValue("gateway"), d)
		return armed{Armed: s.Discrepancies()}, err
	}))
	mux.HandleFunc("POST /admin/save", s.adminSave)
}

// jsonCall serves an admin call that takes and gives JSON: the request
// body decoded strictly into In, do's result written with status.
func jsonCall[In, Out any](status int, do func(r *http.Request, in In) (Out, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in In
		err := decodeJSON(r, &in, true)
		var out Out
		if err == nil {
			out, err = do(r, in)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, status, out)
	}
}

// queryInt reads an optional non-negative integer parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, invalid("%s %q: want a non-negative integer", name, clip(v))
	}
	return n, nil
}

// adminTransactions serves GET /admin/transactions?gateway=&ref=&status=&limit=
// → {"transactions": [Transaction...]}, newest first.
func (s *Sim) adminTransactions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := TransactionFilter{Gateway: q.Get("gateway"), Ref: q.Get("ref"), Status: Status(q.Get("status"))}
	var err error
	switch f.Status {
	case "", StatusPending, StatusSucceeded, StatusFailed:
	default:
		err = invalid("status %q: want pending, succeeded or failed", clip(string(f.Status)))
	}
	if err == nil {
		f.Limit, err = queryInt(r, "limit")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]Transaction{"transactions": s.Transactions(f)})
}

// adminGetFaults serves GET /admin/faults/{gateway} → Faults.
func (s *Sim) adminGetFaults(w http.ResponseWriter, r *http.Request) {
	g := r.PathValue("gateway")
	if !knownGateway(g) {
		writeError(w, invalidGateway(g))
		return
	}
	writeJSON(w, http.StatusOK, s.Faults(g))
}

func invalidGateway(g string) error { return notFound("gateway %q", clip(g)) }

// maxWait bounds ?wait= on GET /admin/callbacks.
const maxWait = time.Minute

// adminCallbacks serves GET /admin/callbacks?gateway=&ref=&wait=
// → {"in_flight": n, "attempts": [CallbackAttempt...]}. With wait (a
// duration such as 2s, at most 1m) it first waits for the callbacks in
// flight to finish.
func (s *Sim) adminCallbacks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxWait {
			writeError(w, invalid("wait %q: want a duration up to %s", clip(v), maxWait))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		_ = s.WaitCallbacks(ctx) // in_flight says whether they finished
		cancel()
	}
	writeJSON(w, http.StatusOK, struct {
		InFlight int64             `json:"in_flight"`
		Attempts []CallbackAttempt `json:"attempts"`
	}{s.CallbacksInFlight(), s.CallbackLog(q.Get("gateway"), q.Get("ref"))})
}

// adminSettlement serves GET /admin/settlements/{gateway}/{day}?revision=N:
// the CSV (latest revision by default), its file id in X-Settlement-File-Id.
func (s *Sim) adminSettlement(w http.ResponseWriter, r *http.Request) {
	day, err := ParseDay(r.PathValue("day"))
	var rev int
	if err == nil {
		rev, err = queryInt(r, "revision")
	}
	var content []byte
	var info SettlementInfo
	if err == nil {
		content, info, err = s.Settlement(r.PathValue("gateway"), day, rev)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+info.FileID+`.csv"`)
	w.Header().Set("X-Settlement-File-Id", info.FileID)
	_, _ = w.Write(content)
}

// adminRevise serves POST /admin/settlements/{gateway}/{day}/revise → 201 SettlementInfo.
func (s *Sim) adminRevise(w http.ResponseWriter, r *http.Request) {
	day, err := ParseDay(r.PathValue("day"))
	var info SettlementInfo
	if err == nil {
		info, err = s.ReviseSettlement(r.PathValue("gateway"), day)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, info)
}

// adminSave serves POST /admin/save: compacts the log into the state file
// (204), or 409 without a data dir.
func (s *Sim) adminSave(w http.ResponseWriter, _ *http.Request) {
	if err := s.Save(); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// bankCAMT053 serves GET /bank/statements/camt053/{day}.
func (s *Sim) bankCAMT053(w http.ResponseWriter, r *http.Request) {
	day, err := ParseDay(r.PathValue("day"))
	var doc []byte
	if err == nil {
		doc, err = s.CAMT053(day)
	}
	writeXML(w, doc, err)
}

// bankCAMT054 serves GET /bank/notifications/camt054?since=RFC3339&limit=N
// (since defaults to the start of today, GMT+7).
func (s *Sim) bankCAMT054(w http.ResponseWriter, r *http.Request) {
	since := midnight(s.cfg.Now())
	var err error
	if v := r.URL.Query().Get("since"); v != "" {
		if since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			err = invalid("since %q: want an RFC 3339 time", clip(v))
		}
	}
	var limit int
	if err == nil {
		limit, err = queryInt(r, "limit")
	}
	var doc []byte
	if err == nil {
		doc, err = s.CAMT054(since, limit)
	}
	writeXML(w, doc, err)
}

func writeXML(w http.ResponseWriter, doc []byte, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	_, _ = w.Write(doc)
}
