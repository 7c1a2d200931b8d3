package gatewaysim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/gateways/zalopay"
)

// Sim plays VNPAY, MoMo, ZaloPay and the treasury bank on one http.Handler.
// It is safe for concurrent use. Close it to stop its callbacks.
type Sim struct {
	cfg     Config
	mu      sync.Mutex // guards st
	st      *store
	faultMu sync.RWMutex
	faults  map[string]Faults
	cb      *dispatcher
	done    chan struct{}
	once    sync.Once
	handler http.Handler
	panics  atomic.Int64 // handler panics recovered (tests assert there are none)

	// With a data dir: compactions one at a time, the last snapshot's seq,
	// and the goroutine that flushes lazy records and compacts a long log.
	compactMu sync.Mutex
	snapSeq   uint64
	snapValid bool
	kick      chan struct{}
	bg        sync.WaitGroup
	lock      *os.File // holds the data dir (see lockDir)
}

// New returns a simulator for cfg. With cfg.DataDir set, the state kept
// there by an earlier run is loaded (the snapshot and the log after it), the
// callbacks it still owed are sent again, and every change from now on is
// on disk before anyone is told of it.
func New(cfg Config) (*Sim, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sim{
		cfg: cfg, st: newStore(cfg.Now()), faults: map[string]Faults{},
		cb: newDispatcher(cfg.Callbacks.Concurrency), done: make(chan struct{}), kick: make(chan struct{}, 1),
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	s.handler = s.recoverer(s.routes())
	if s.st.wal != nil {
		s.st.wal.mu.Lock()
		s.st.wal.full = s.poke
		s.st.wal.mu.Unlock()
		s.bg.Go(s.background)
		s.resendOwed()
	}
	return s, nil
}

// durable returns once every change made so far is on disk (at once
// without a data dir).
func (s *Sim) durable() error {
	w := s.st.wal
	if w == nil {
		return nil
	}
	return w.wait(w.last())
}

// durableUpTo returns once the change logged as seq and those before it
// are on disk.
func (s *Sim) durableUpTo(seq uint64) error {
	if w := s.st.wal; w != nil {
		return w.wait(seq)
	}
	return nil
}

// background writes lazily logged records and compacts a long log.
func (s *Sim) background() {
	w := s.st.wal
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		if err := w.wait(w.last()); err != nil {
			s.cfg.Logger.Error("gatewaysim: log", "error", err)
			continue
		}
		if w.due() {
			if err := s.Save(); err != nil {
				s.cfg.Logger.Error("gatewaysim: compaction", "error", err)
			}
		}
	}
}

// poke wakes the background goroutine (without waiting for it).
func (s *Sim) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Handler serves everything: /vnpay, /momo, /zalopay (the gateways' APIs
// and pay pages), /bank (statements), /admin (control) and / (an index).
func (s *Sim) Handler() http.Handler { return s.handler }

// Close stops every pending callback, waits for them to return and, with a
// data dir, compacts the state and closes the log (a callback cut short is
// sent again by the next run). It may be called more than once.
func (s *Sim) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		s.cb.close()
		s.bg.Wait()
		if w := s.st.wal; w != nil {
			err = errors.Join(s.Save(), w.close(), s.lock.Close())
		}
	})
	return err
}

// maxBody bounds every request body.
const maxBody = 1 << 20

func (s *Sim) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)

	mux.HandleFunc("GET /vnpay"+vnpay.PayPath, s.vnpayOpen)
	mux.HandleFunc("POST /vnpay"+vnpay.APIPath, s.apiFaults(VNPAY, s.vnpayAPI))

	mux.HandleFunc("POST /momo"+momo.CreatePath, s.apiFaults(MoMo, s.momoCreate))
	mux.HandleFunc("POST /momo"+momo.QueryPath, s.apiFaults(MoMo, s.momoQuery))
	mux.HandleFunc("POST /momo"+momo.RefundPath, s.apiFaults(MoMo, s.momoRefund))

	mux.HandleFunc("POST /zalopay"+zalopay.CreatePath, s.apiFaults(ZaloPay, s.zalopayCreate))
	mux.HandleFunc("POST /zalopay"+zalopay.QueryPath, s.apiFaults(ZaloPay, s.zalopayQuery))
	mux.HandleFunc("POST /zalopay"+zalopay.RefundPath, s.apiFaults(ZaloPay, s.zalopayRefund))
	mux.HandleFunc("POST /zalopay"+zalopay.QueryRefundPath, s.apiFaults(ZaloPay, s.zalopayQueryRefund))

	for _, g := range gatewayNames {
		mux.HandleFunc("GET /"+g+"/pay/{ref}", s.payPageHandler(g))
		mux.HandleFunc("POST /"+g+"/pay/{ref}", s.payFormHandler(g))
	}

	s.adminRoutes(mux)

	mux.HandleFunc("GET /bank/statements/camt053/{day}", s.bankCAMT053)
	mux.HandleFunc("GET /bank/notifications/camt054", s.bankCAMT054)
	return mux
}

// recoverer bounds request bodies and turns a handler panic into a 500
// (counted, so that tests notice).
func (s *Sim) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.panics.Add(1)
				s.cfg.Logger.Error("gatewaysim: handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		dw := &durableWriter{ResponseWriter: w, s: s}
		h.ServeHTTP(dw, r)
		dw.check()
	})
}

// durableWriter holds an answer back until every change made before it —
// the request's own and any other it may show — is on disk: what a client
// was told survives a crash. When the log cannot be written the answer is
// a 500 instead.
type durableWriter struct {
	http.ResponseWriter
	s       *Sim
	checked bool
	failed  bool
}

// errNotSaved is what a handler's Write returns once the answer was replaced.
var errNotSaved = errors.New("gatewaysim: answer withheld: the state could not be saved")

func (d *durableWriter) check() bool {
	if d.checked {
		return !d.failed
	}
	d.checked = true
	if err := d.s.durable(); err != nil {
		d.failed = true
		d.s.cfg.Logger.Error("gatewaysim: state not saved; answering 500", "error", err)
		h := d.ResponseWriter.Header()
		h.Del("Content-Length")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		d.ResponseWriter.WriteHeader(http.StatusInternalServerError)
		_, _ = d.ResponseWriter.Write([]byte("state not saved\n"))
	}
	return !d.failed
}

func (d *durableWriter) WriteHeader(status int) {
	if d.check() {
		d.ResponseWriter.WriteHeader(status)
	}
}

func (d *durableWriter) Write(b []byte) (int, error) {
	if !d.check() {
		return 0, errNotSaved
	}
	return d.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (d *durableWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// publicBase is the simulator's base URL for links it hands out.
func (s *Sim) publicBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// payURL is the pay page of a transaction.
func payURL(base, gateway, ref string) string {
	return base + "/" + gateway + "/pay/" + url.PathEscape(ref)
}

// decodeJSON reads a JSON request body into v. strict refuses unknown
// fields (admin API); a gateway API tolerates them as real gateways do.
func decodeJSON(r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return invalid("request body: %v", err)
	}
	if dec.More() {
		return invalid("request body: more than one JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorStatus maps an operation's error to an HTTP status.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// writeError answers an admin call with {"error": "..."}.
func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, errorStatus(err), map[string]string{"error": err.Error()})
}

func (s *Sim) index(w http.ResponseWriter, r *http.Request) {
	base := s.publicBase(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, s.Describe(base))
}

// Describe is a short text of what the simulator serves at base, with the
// non-secret parts of its configuration.
func (s *Sim) Describe(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gatewaysim — simulated VNPAY, MoMo, ZaloPay and treasury bank\n\n")
	fmt.Fprintf(&b, "VNPAY    base URL %s/vnpay   (TmnCode %s; IPNs to %s)\n", base, s.cfg.VNPAY.TmnCode, orNone(s.cfg.VNPAY.IPNURL))
	fmt.Fprintf(&b, "MoMo     base URL %s/momo    (partnerCode %s)\n", base, s.cfg.MoMo.PartnerCode)
	fmt.Fprintf(&b, "ZaloPay  base URL %s/zalopay (app_id %d; default callback %s)\n", base, s.cfg.ZaloPay.AppID, orNone(s.cfg.ZaloPay.CallbackURL))
	fmt.Fprintf(&b, "Bank     BIN %s account %s; camt.053 at %s/bank/statements/camt053/{yyyy-mm-dd}, camt.054 at %s/bank/notifications/camt054?since=RFC3339\n",
		s.cfg.Bank.BIN, s.cfg.Bank.Account, base, base)
	fmt.Fprintf(&b, "Settlement files at %s/admin/settlements/{gateway}/{yyyy-mm-dd}\n", base)
	fmt.Fprintf(&b, "\nAdmin: POST /admin/pay, GET /admin/transactions, POST /admin/transfer, GET /admin/transfers,\n")
	fmt.Fprintf(&b, "       GET|POST /admin/faults/{gateway}, GET /admin/callbacks, GET /admin/settlements,\n")
	fmt.Fprintf(&b, "       POST /admin/settlements/{gateway}/{day}/revise, GET /admin/discrepancies,\n")
	fmt.Fprintf(&b, "       POST /admin/discrepancies/{gateway|bank}, POST /admin/save\n")
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
