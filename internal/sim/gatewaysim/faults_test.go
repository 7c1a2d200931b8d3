package gatewaysim

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
)

// TestAPIFaults: a 5xx storm and a hang longer than the client's timeout
// are technical errors for the adapters; latency alone is not an error.
func TestAPIFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		faults    Faults
		technical bool
		is        error
	}{
		{"every call 503", Faults{ErrorRate: 1}, true, nil},
		{"every call hangs", Faults{TimeoutRate: 1, HangMS: 10_000}, true, context.DeadlineExceeded},
		{"latency with jitter", Faults{LatencyMS: 5, JitterMS: 5}, false, nil},
	}
	for _, g := range gatewayNames {
		for _, tt := range tests {
			t.Run(g+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				if g != VNPAY {
					e.create(g, 10_000) // the order exists before the faults start
				}
				a := e.adapter(g, 200*time.Millisecond)
				ref := "ATX1"
				if g != VNPAY {
					ref = e.sim.Transactions(TransactionFilter{Gateway: g})[0].Ref
				}
				if err := e.admin.SetFaults(context.Background(), g, tt.faults); err != nil {
					t.Fatal(err)
				}
				_, err := a.Query(context.Background(), gateways.QueryRequest{GatewayRef: ref, CreatedAt: e.clock.Now()})
				if got := gateways.IsTechnical(err); got != tt.technical {
					t.Errorf("query error %v: technical %v, want %v", err, got, tt.technical)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("query error %v does not wrap %v", err, tt.is)
				}
				if !tt.technical && err != nil {
					t.Errorf("query with latency: %v", err)
				}
			})
		}
	}
}

// TestLostAnswer: a call carried out whose answer is lost is a technical
// error for the adapter, and its retry meets what the first call did.
func TestLostAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lose := Faults{LostAnswerRate: 1, HangMS: 10_000}
	t.Run("momo create", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		a := e.create(MoMo, 10_000)
		a.req.AttemptRef += "L"
		check(t, e.sim.SetFaults(MoMo, lose))
		_, err := e.adapter(MoMo, 200*time.Millisecond).Create(ctx, a.req)
		if !gateways.IsTechnical(err) {
			t.Fatalf("create with a lost answer: %v, want a technical error", err)
		}
		check(t, e.sim.SetFaults(MoMo, Faults{}))
		if _, err := e.gw[MoMo].Create(ctx, a.req); !errors.Is(err, gateways.ErrRejected) {
			t.Errorf("retried create: %v, want rejected as a duplicate", err)
		}
		if got := e.sim.Transactions(TransactionFilter{Gateway: MoMo, Ref: a.req.AttemptRef}); len(got) != 1 {
			t.Errorf("orders %+v, want the one the lost call made", got)
		}
	})
	// dupStatus is how each adapter reports the retried refund.
	dupStatus := map[string]gateways.Status{VNPAY: gateways.StatusPending, MoMo: gateways.StatusPending,
		ZaloPay: gateways.StatusSucceeded}
	for _, g := range gatewayNames {
		t.Run(g+" refund", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			p := e.payMany(g, 80_000)[0]
			rr := refundReq(p.attempt, p.txnID, "RFDLOST", 30_000, e.clock.Now())
			check(t, e.sim.SetFaults(g, lose))
			if _, err := e.adapter(g, 200*time.Millisecond).Refund(ctx, rr); !gateways.IsTechnical(err) {
				t.Fatalf("refund with a lost answer: %v, want a technical error", err)
			}
			check(t, e.sim.SetFaults(g, Faults{}))
			again := must(e.gw[g].Refund(ctx, rr))(t)
			if again.Status != dupStatus[g] {
				t.Errorf("retried refund = %+v, want %s", again, dupStatus[g])
			}
			if got := e.transaction(p.attempt); got.Refunded() != 30_000 {
				t.Errorf("refunds %+v, want the one the lost call made", got.Refunds)
			}
		})
	}
}

// TestCallbackFaults: duplicated (one after another or all at once),
// badly signed, dropped and delayed callbacks, and retries until the
// merchant acknowledges.
func TestCallbackFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults Faults
		fails  int64 // callbacks the receiver answers with an error first
		check  func(t *testing.T, e *env, a attempt, cbs []callback, log []CallbackAttempt)
	}{
		{"5 copies one after another", Faults{CallbackCopies: 5}, 0, wantCopies(5)},
		{"50 copies at once", Faults{CallbackCopies: 50, CallbackConcurrent: true}, 0, wantCopies(50)},
		{"delayed", Faults{CallbackDelayMS: 20}, 0, wantCopies(1)},
		{"bad signature", Faults{CallbackBadSignatureRate: 1}, 0,
			func(t *testing.T, _ *env, _ attempt, cbs []callback, log []CallbackAttempt) {
				if len(cbs) != 1 || !errors.Is(cbs[0].err, gateways.ErrBadSignature) {
					t.Errorf("callbacks = %+v, want one refused by ParseCallback", cbs)
				}
				if len(log) != 1 || log[0].Outcome != CallbackRefused || !log[0].BadSignature {
					t.Errorf("log = %+v, want one refusal, not retried", log)
				}
			}},
		{"dropped", Faults{CallbackDropRate: 1}, 0,
			func(t *testing.T, e *env, a attempt, cbs []callback, log []CallbackAttempt) {
				if len(cbs) != 0 || len(log) != 1 || log[0].Outcome != CallbackDropped {
					t.Errorf("callbacks %+v, log %+v: want none sent", cbs, log)
				}
				if q := e.query(a); q.Status != gateways.StatusSucceeded {
					t.Errorf("query after a dropped callback = %+v, want succeeded", q)
				}
			}},
		{"retried until acknowledged", Faults{}, 2,
			func(t *testing.T, _ *env, _ attempt, cbs []callback, log []CallbackAttempt) {
				want := []string{CallbackRetry, CallbackRetry, CallbackDelivered}
				if len(cbs) != 3 || len(log) != 3 {
					t.Fatalf("callbacks %d, log %+v: want 3 attempts", len(cbs), log)
				}
				for i, a := range log {
					if a.Outcome != want[i] || a.Attempt != i+1 {
						t.Errorf("attempt %d = %+v, want %s", i+1, a, want[i])
					}
				}
			}},
		{"given up after the attempts", Faults{}, 100,
			func(t *testing.T, _ *env, _ attempt, cbs []callback, log []CallbackAttempt) {
				if len(cbs) != 4 || len(log) != 4 || log[3].Outcome != CallbackGaveUp {
					t.Errorf("callbacks %d, log %+v: want 4 attempts, the last given up", len(cbs), log)
				}
			}},
	}
	for _, g := range gatewayNames {
		for _, tt := range tests {
			t.Run(g+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				e.recv.fails.Store(tt.fails)
				if err := e.sim.SetFaults(g, tt.faults); err != nil {
					t.Fatal(err)
				}
				a := e.create(g, 120_000)
				res := e.pay(a, PaySuccess)
				e.waitCallbacks()
				cbs := e.recv.callbacks(g)
				for _, cb := range cbs {
					if cb.err == nil && cb.res.GatewayTxnID != res.Transaction.GatewayTxnID {
						t.Errorf("callback %+v is not for transaction %s", cb.res, res.Transaction.GatewayTxnID)
					}
				}
				tt.check(t, e, a, cbs, e.sim.CallbackLog(g, a.res.GatewayRef))
			})
		}
	}
}

func wantCopies(n int) func(*testing.T, *env, attempt, []callback, []CallbackAttempt) {
	return func(t *testing.T, _ *env, _ attempt, cbs []callback, log []CallbackAttempt) {
		t.Helper()
		if len(cbs) != n || len(log) != n {
			t.Fatalf("%d callbacks, %d logged; want %d", len(cbs), len(log), n)
		}
		for _, cb := range cbs {
			if cb.err != nil || cb.res.Status != gateways.StatusSucceeded {
				t.Errorf("callback %+v, %v; want a valid success", cb.res, cb.err)
			}
		}
		copies := map[int]bool{}
		for _, a := range log {
			copies[a.Copy] = a.Outcome == CallbackDelivered
		}
		for i := 1; i <= n; i++ {
			if !copies[i] {
				t.Errorf("copy %d not delivered: %+v", i, log)
			}
		}
	}
}

func TestFaultsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    Faults
		ok   bool
	}{
		{"none", Faults{}, true},
		{"everything at once", Faults{LatencyMS: 10, JitterMS: 5, ErrorRate: 0.3, TimeoutRate: 0.2, HangMS: 1000,
			CallbackDropRate: 0.1, CallbackCopies: 3, CallbackConcurrent: true, CallbackDelayMS: 100,
			CallbackBadSignatureRate: 0.5}, true},
		{"negative rate", Faults{ErrorRate: -0.1}, false},
		{"rate above one", Faults{CallbackDropRate: 1.5}, false},
		{"NaN rate", Faults{CallbackBadSignatureRate: math.NaN()}, false},
		{"errors and timeouts above one", Faults{ErrorRate: 0.6, TimeoutRate: 0.5}, false},
		{"with lost answers above one", Faults{ErrorRate: 0.4, TimeoutRate: 0.3, LostAnswerRate: 0.4}, false},
		{"negative latency", Faults{LatencyMS: -1}, false},
		{"hang of an hour", Faults{HangMS: 3_600_000}, false},
		{"too many copies", Faults{CallbackCopies: 101}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.f.Validate()
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestFaultsAdmin: faults are per gateway, read back as set, and refused
// when out of bounds.
func TestFaultsAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	want := Faults{ErrorRate: 0.3, CallbackCopies: 2}
	if err := e.admin.SetFaults(ctx, MoMo, want); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Faults(MoMo); got != want {
		t.Errorf("momo faults = %+v, want %+v", got, want)
	}
	if got := e.sim.Faults(VNPAY); got != (Faults{}) {
		t.Errorf("vnpay faults = %+v, want none", got)
	}
	if err := e.admin.SetFaults(ctx, MoMo, Faults{ErrorRate: 2}); !errors.Is(err, ErrInvalid) {
		t.Errorf("error_rate 2: %v, want ErrInvalid", err)
	}
	if err := e.admin.SetFaults(ctx, "paypal", Faults{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown gateway: %v, want ErrNotFound", err)
	}
	if all := e.sim.AllFaults(); len(all) != 3 || all[MoMo] != want {
		t.Errorf("all faults = %+v", all)
	}
}
