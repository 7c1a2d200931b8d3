package gatewaysim

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/shopspring/decimal"
)

// BenchmarkPayment is the simulator's share of one payment over HTTP, as a
// load test drives it: create through the adapter, complete through the
// admin API, the callback delivered to a receiver that answers at once.
// memory/ keeps the state in memory only, disk/ with a data dir (every
// change written to the log and synced before the answer).
func BenchmarkPayment(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchmarkPayment(b, "") })
	b.Run("disk", func(b *testing.B) { benchmarkPayment(b, b.TempDir()) })
}

func benchmarkPayment(b *testing.B, dataDir string) {
	var delivered atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered.Add(1)
		if r.Method == http.MethodGet { // VNPAY
			_, _ = w.Write([]byte(`{"RspCode":"00","Message":"Confirm Success"}`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	cfg := DemoConfig(recv.URL)
	cfg.DataDir = dataDir
	sim, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	defer sim.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: tr}
	admin := &Client{BaseURL: srv.URL, HTTP: client}
	adapters := map[string]gateways.Gateway{
		VNPAY: must(vnpay.New(vnpay.Config{BaseURL: srv.URL + "/vnpay", TmnCode: cfg.VNPAY.TmnCode, HashSecret: cfg.VNPAY.HashSecret}, client))(b),
		MoMo: must(momo.New(momo.Config{BaseURL: srv.URL + "/momo", PartnerCode: cfg.MoMo.PartnerCode,
			AccessKey: cfg.MoMo.AccessKey, SecretKey: cfg.MoMo.SecretKey}, client))(b),
	}
	methods := map[string]gateways.Method{VNPAY: gateways.MethodQR, MoMo: gateways.MethodEwallet}
	var seq atomic.Int64 // across runs: b.Run runs each sub-benchmark more than once
	// logged reports the log's records and fsyncs (with a data dir).
	logged := func() (records, syncs int64) {
		if w := sim.st.wal; w != nil {
			w.mu.Lock()
			defer w.mu.Unlock()
			return int64(w.seq), w.syncs
		}
		return 0, 0
	}
	for _, g := range []string{VNPAY, MoMo} {
		b.Run(g, func(b *testing.B) {
			delivered.Store(0)
			records0, syncs0 := logged()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					ref := fmt.Sprintf("B%s%d", g[:2], seq.Add(1))
					created, err := adapters[g].Create(ctx, gateways.CreateRequest{AttemptRef: ref, PaymentRef: "RF18539007547034",
						Amount: decimal.NewFromInt(100_000), Currency: "VND", Method: methods[g], ReturnURL: recv.URL + "/return",
						CallbackURL: recv.URL + "/callbacks/" + g, CreatedAt: time.Now()})
					if err == nil {
						_, err = admin.Pay(ctx, PayRequest{Gateway: g, PayURL: created.RedirectURL, Outcome: PaySuccess})
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := sim.WaitCallbacks(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
			if records, syncs := logged(); syncs > syncs0 {
				b.ReportMetric(float64(records-records0)/float64(syncs-syncs0), "records/fsync")
			}
			if n := delivered.Load(); n != int64(b.N) {
				b.Errorf("%d callbacks delivered for %d payments", n, b.N)
			}
		})
	}
}
