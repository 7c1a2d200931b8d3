package paydriver

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// callbackWatch is the simulator's HTTP transport for callbacks: it times
// each callback from sending to civicpay's answer — civicpay answers once the
// payment is committed, so that is callback-to-paid — and tells the payment
// waiting on the callback's reference.
type callbackWatch struct {
	next      http.RoundTripper
	latencies *durations
	mu        sync.Mutex
	waiting   map[string]chan struct{}
}

func newCallbackWatch(latencies *durations) *callbackWatch {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 512
	return &callbackWatch{next: tr, latencies: latencies, waiting: map[string]chan struct{}{}}
}

// expect returns a channel closed when a callback for ref is answered.
func (w *callbackWatch) expect(ref string) <-chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	w.waiting[ref] = ch
	w.mu.Unlock()
	return ch
}

func (w *callbackWatch) forget(ref string) {
	w.mu.Lock()
	delete(w.waiting, ref)
	w.mu.Unlock()
}

// RoundTrip sends the callback and, on a 2xx answer, records its time and
// wakes its payment.
func (w *callbackWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	ref := callbackRef(req)
	start := time.Now()
	res, err := w.next.RoundTrip(req)
	if err != nil || res.StatusCode >= 300 {
		return res, err
	}
	took := time.Since(start)
	w.mu.Lock()
	ch, ok := w.waiting[ref]
	delete(w.waiting, ref)
	w.mu.Unlock()
	if ok {
		w.latencies.add(took)
		close(ch)
	}
	return res, nil
}

// callbackRef reads the payment's reference out of a callback: VNPAY's
// vnp_TxnRef, MoMo's orderId, ZaloPay's app_trans_id inside data.
func callbackRef(req *http.Request) string {
	if ref := req.URL.Query().Get("vnp_TxnRef"); ref != "" || req.GetBody == nil {
		return ref
	}
	body, err := req.GetBody()
	if err != nil {
		return ""
	}
	raw, _ := io.ReadAll(body)
	var msg struct {
		OrderID string `json:"orderId"`
		Data    string `json:"data"`
	}
	if json.Unmarshal(raw, &msg) != nil || msg.OrderID != "" {
		return msg.OrderID
	}
	var data struct {
		AppTransID string `json:"app_trans_id"`
	}
	_ = json.Unmarshal([]byte(msg.Data), &data)
	return data.AppTransID
}

// durations collects latencies from many goroutines.
type durations struct {
	mu sync.Mutex
	ds []time.Duration
}

func (d *durations) add(x time.Duration) {
	d.mu.Lock()
	d.ds = append(d.ds, x)
	d.mu.Unlock()
}

// reset returns what was collected and starts afresh.
func (d *durations) reset() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.ds
	d.ds = nil
	return out
}
