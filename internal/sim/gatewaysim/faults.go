package gatewaysim

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// Faults are the failures a simulated gateway injects, switched at run time
// per gateway (POST /admin/faults/{gateway}). The zero value injects none.
// Rates are fractions from 0 to 1, drawn independently for each call or
// callback.
type Faults struct {
	// LatencyMS delays every API call (create, query, refund) by this many
	// milliseconds, plus a uniform random JitterMS.
	LatencyMS int `json:"latency_ms"`
	JitterMS  int `json:"jitter_ms"`
	// ErrorRate of API calls are answered 503 with an HTML body.
	ErrorRate float64 `json:"error_rate"`
	// TimeoutRate of API calls get no answer for HangMS (default 30000),
	// longer than any sensible client timeout, then a 504.
	TimeoutRate float64 `json:"timeout_rate"`
	HangMS      int     `json:"hang_ms"`
	// LostAnswerRate of API calls are carried out but their answer is lost:
	// no answer for HangMS, then a 504. A retry then meets what the first
	// call did (a duplicate order, a refund already made).
	LostAnswerRate float64 `json:"lost_answer_rate"`

	// CallbackDropRate of callbacks are never sent.
	CallbackDropRate float64 `json:"callback_drop_rate"`
	// CallbackCopies sends each callback this many times (0 and 1: once);
	// all at the same moment when CallbackConcurrent, else one after another.
	CallbackCopies     int  `json:"callback_copies"`
	CallbackConcurrent bool `json:"callback_concurrent"`
	// CallbackDelayMS holds every callback back this long.
	CallbackDelayMS int `json:"callback_delay_ms"`
	// CallbackBadSignatureRate of callbacks are signed with the wrong key
	// (every copy and retry of such a callback alike).
	CallbackBadSignatureRate float64 `json:"callback_bad_signature_rate"`
	// AnswerBadSignatureRate of signed status answers (MoMo's query) are
	// signed with the wrong key.
	AnswerBadSignatureRate float64 `json:"answer_bad_signature_rate"`
}

// Bounds on Faults values.
const (
	maxFaultMS     = 600_000
	maxCopies      = 100
	defaultHangMS  = 30_000
	serviceDownMsg = "<html><body><h1>503 Service Unavailable</h1><p>simulated gateway fault</p></body></html>"
)

// Validate checks the bounds: rates within 0..1 (errors, timeouts and
// lost answers together at most 1), durations within 0..600000 ms, copies within 0..100.
func (f Faults) Validate() error {
	rates := map[string]float64{"error_rate": f.ErrorRate, "timeout_rate": f.TimeoutRate, "lost_answer_rate": f.LostAnswerRate,
		"callback_drop_rate": f.CallbackDropRate, "callback_bad_signature_rate": f.CallbackBadSignatureRate,
		"answer_bad_signature_rate": f.AnswerBadSignatureRate}
	for name, r := range rates {
		if !(r >= 0 && r <= 1) { // also refuses NaN
			return invalid("%s %v outside 0..1", name, r)
		}
	}
	if sum := f.ErrorRate + f.TimeoutRate + f.LostAnswerRate; sum > 1 {
		return invalid("error_rate + timeout_rate + lost_answer_rate = %v exceeds 1", sum)
	}
	durations := map[string]int{"latency_ms": f.LatencyMS, "jitter_ms": f.JitterMS, "hang_ms": f.HangMS,
		"callback_delay_ms": f.CallbackDelayMS}
	for name, ms := range durations {
		if ms < 0 || ms > maxFaultMS {
			return invalid("%s %d outside 0..%d", name, ms, maxFaultMS)
		}
	}
	if f.CallbackCopies < 0 || f.CallbackCopies > maxCopies {
		return invalid("callback_copies %d outside 0..%d", f.CallbackCopies, maxCopies)
	}
	return nil
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// latency is the delay for one API call.
func (f Faults) latency() time.Duration {
	d := ms(f.LatencyMS)
	if f.JitterMS > 0 {
		d += rand.N(ms(f.JitterMS) + 1)
	}
	return d
}

func (f Faults) hang() time.Duration {
	if f.HangMS > 0 {
		return ms(f.HangMS)
	}
	return ms(defaultHangMS)
}

func (f Faults) copies() int { return max(f.CallbackCopies, 1) }

// chance reports true with probability rate.
func chance(rate float64) bool { return rate > 0 && (rate >= 1 || rand.Float64() < rate) }

// SetFaults replaces gateway's faults.
func (s *Sim) SetFaults(gateway string, f Faults) error {
	if !knownGateway(gateway) {
		return invalidGateway(gateway)
	}
	if err := f.Validate(); err != nil {
		return err
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults[gateway] = f
	return nil
}

// Faults returns gateway's current faults (zero for an unknown gateway).
func (s *Sim) Faults(gateway string) Faults {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	return s.faults[gateway]
}

// AllFaults returns every gateway's faults.
func (s *Sim) AllFaults() map[string]Faults {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	out := make(map[string]Faults, len(gatewayNames))
	for _, g := range gatewayNames {
		out[g] = s.faults[g]
	}
	return out
}

// apiFaults wraps a gateway's API handler: latency first, then an injected
// 503, hang or lost answer, else the handler.
func (s *Sim) apiFaults(gateway string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := s.Faults(gateway)
		if d := f.latency(); d > 0 && !s.sleep(r, d) {
			return
		}
		switch x := rand.Float64(); {
		case f.ErrorRate > 0 && x < f.ErrorRate:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(serviceDownMsg))
			return
		case f.TimeoutRate > 0 && x < f.ErrorRate+f.TimeoutRate:
			s.hangUp(w, r, f)
			return
		case f.LostAnswerRate > 0 && x < f.ErrorRate+f.TimeoutRate+f.LostAnswerRate:
			h(discard{}, r)
			s.hangUp(w, r, f)
			return
		}
		h(w, r)
	}
}

// hangUp answers nothing for the hang time, then 504.
func (s *Sim) hangUp(w http.ResponseWriter, r *http.Request, f Faults) {
	if s.sleep(r, f.hang()) {
		w.WriteHeader(http.StatusGatewayTimeout)
	}
}

// discard is a ResponseWriter that loses the answer.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// sleep waits d unless the client goes away or the simulator closes first;
// it reports whether the full time passed.
func (s *Sim) sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}
