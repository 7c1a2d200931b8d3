package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/gateways/zalopay"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
)

// TestKillNineKeepsWhatItAnswered runs the real binary, creates, confirms,
// declines and refunds payments over the gateways' own protocols, kills it
// with SIGKILL the moment the last answer arrived, starts it again on the
// same data dir and finds everything it answered: every confirmed payment
// paid with its number, every declined one failed, every refund (a repeat
// refunds nothing more, nothing beyond what is left), the transfer booked
// on the treasury account, and the callbacks that were still being retried
// at the kill are sent again.
func TestKillNineKeepsWhatItAnswered(t *testing.T) {
	t.Parallel()
	bin := buildSim(t)
	state := t.TempDir()
	recv := newCallbackSink(t)

	first := startSim(t, bin, state, recv.srv.URL)
	gws := adapters(t, first.url)
	admin := &gatewaysim.Client{BaseURL: first.url}
	ctx := context.Background()

	type payment struct {
		gateway  string
		req      gateways.CreateRequest
		res      gateways.CreateResult
		paid     bool
		txnID    string
		refund   *gateways.RefundRequest
		refundID string
	}
	const perGateway = 8
	var payments []*payment
	for _, g := range []string{gatewaysim.VNPAY, gatewaysim.MoMo, gatewaysim.ZaloPay} {
		for i := range perGateway {
			now := time.Now()
			payments = append(payments, &payment{gateway: g, paid: i != perGateway-1, req: gateways.CreateRequest{
				AttemptRef: fmt.Sprintf("KILL%s%d%d", strings.ToUpper(g[:2]), now.UnixNano()%1e9, i), PaymentRef: "RF18539007547034",
				Amount: decimal.NewFromInt(150_000), Currency: "VND", Description: "Lệ phí", Method: methodOf[g],
				ReturnURL: recv.srv.URL + "/return", CallbackURL: recv.srv.URL + "/callbacks/" + g, ClientIP: "203.0.113.7",
				Locale: "vi", CreatedAt: now, ExpiresAt: now.Add(20 * time.Minute)}})
		}
	}
	// All at once: the answers of concurrent writers must each be durable.
	var wg sync.WaitGroup
	errs := make(chan error, len(payments)+1)
	var transfer gatewaysim.Transfer
	wg.Go(func() {
		var err error
		if transfer, err = admin.Transfer(ctx, gatewaysim.TransferRequest{Reference: "RF18539007547034", Amount: 25_000}); err != nil {
			errs <- fmt.Errorf("transfer: %w", err)
		}
	})
	for i, p := range payments {
		wg.Go(func() {
			var err error
			if p.res, err = gws[p.gateway].Create(ctx, p.req); err != nil {
				errs <- fmt.Errorf("create %s: %w", p.req.AttemptRef, err)
				return
			}
			outcome := gatewaysim.PayDecline
			if p.paid {
				outcome = gatewaysim.PaySuccess
			}
			pay := gatewaysim.PayRequest{Gateway: p.gateway, Ref: p.res.GatewayRef, Outcome: outcome}
			if p.gateway == gatewaysim.VNPAY {
				pay = gatewaysim.PayRequest{Gateway: p.gateway, PayURL: p.res.RedirectURL, Outcome: outcome} // opens it, as the browser would
			}
			done, err := admin.Pay(ctx, pay)
			if err != nil {
				errs <- fmt.Errorf("pay %s: %w", p.req.AttemptRef, err)
				return
			}
			p.txnID = done.Transaction.GatewayTxnID
			if !p.paid || i%2 != 0 {
				return
			}
			r := gateways.RefundRequest{RefundRef: "RF" + p.req.AttemptRef, GatewayRef: p.res.GatewayRef, GatewayTxnID: p.txnID,
				Amount: decimal.NewFromInt(40_000), OriginalAmount: p.req.Amount, Reason: "Hoàn phí", CreatedAt: time.Now(),
				OriginalCreatedAt: p.req.CreatedAt}
			rr, err := gws[p.gateway].Refund(ctx, r)
			if err != nil || rr.Status != gateways.StatusSucceeded {
				errs <- fmt.Errorf("refund %s: %+v %v", p.req.AttemptRef, rr, err)
				return
			}
			p.refund, p.refundID = &r, rr.GatewayRefundID
		})
	}
	wg.Wait()
	first.kill(t) // at once: nothing gets a chance to save
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	recv.acknowledge.Store(true)
	second := startSim(t, bin, state, recv.srv.URL)
	gws = adapters(t, second.url)
	admin = &gatewaysim.Client{BaseURL: second.url}
	seen := map[string]bool{}
	for _, p := range payments {
		seen[p.txnID] = true
		q, err := gws[p.gateway].Query(ctx, gateways.QueryRequest{GatewayRef: p.res.GatewayRef, CreatedAt: p.req.CreatedAt})
		want := gateways.StatusFailed
		if p.paid {
			want = gateways.StatusSucceeded
		}
		if err != nil || q.Status != want || (p.paid && q.GatewayTxnID != p.txnID) {
			t.Errorf("%s %s after the restart: %+v, %v; want %s with number %s", p.gateway, p.res.GatewayRef, q, err, want, p.txnID)
			continue
		}
		if p.refund == nil {
			continue
		}
		seen[p.refundID] = true
		if _, err := gws[p.gateway].Refund(ctx, *p.refund); err != nil && !errors.Is(err, gateways.ErrRejected) {
			t.Errorf("%s: the refund again: %v", p.res.GatewayRef, err)
		}
		over := *p.refund
		over.RefundRef, over.Amount = "RO"+p.req.AttemptRef, decimal.NewFromInt(110_001)
		if r, err := gws[p.gateway].Refund(ctx, over); err == nil && r.Status != gateways.StatusFailed {
			t.Errorf("%s: a refund beyond what is left after the restart: %+v", p.res.GatewayRef, r)
		}
		txns, err := admin.Transactions(ctx, gatewaysim.TransactionFilter{Gateway: p.gateway, Ref: p.res.GatewayRef})
		if err != nil || len(txns) != 1 || len(txns[0].Refunds) != 1 || txns[0].Refunds[0].GatewayRefundID != p.refundID ||
			txns[0].Refunded() != 40_000 {
			t.Errorf("%s: refunds after the restart: %+v, %v; want the one of 40000 numbered %s", p.res.GatewayRef, txns, err, p.refundID)
		}
	}

	// The transfer is still on the bank's notification.
	since := transfer.BookedAt.Add(-time.Second)
	if doc, err := admin.CAMT054(ctx, since); err != nil || !strings.Contains(string(doc), transfer.ID) {
		t.Errorf("camt.054 after the restart lacks the transfer %s (%v):\n%s", transfer.ID, err, doc)
	}

	// A new payment gets a number the first run did not hand out.
	now := time.Now()
	req := payments[0].req
	req.AttemptRef, req.CreatedAt, req.ExpiresAt = fmt.Sprintf("KILLNEW%d", now.UnixNano()%1e9), now, now.Add(time.Minute)
	created, err := gws[gatewaysim.VNPAY].Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	done, err := admin.Pay(ctx, gatewaysim.PayRequest{Gateway: gatewaysim.VNPAY, PayURL: created.RedirectURL, Outcome: gatewaysim.PaySuccess})
	if err != nil || seen[done.Transaction.GatewayTxnID] {
		t.Errorf("a payment after the restart: %+v, %v; its number was handed out before", done.Transaction, err)
	}

	// The callbacks the receiver kept refusing before the kill are sent
	// again by the new process, and now acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range payments {
		for p.paid && !recv.acknowledged(p.res.GatewayRef) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if p.paid && !recv.acknowledged(p.res.GatewayRef) {
			t.Errorf("%s %s: no callback after the restart", p.gateway, p.res.GatewayRef)
		}
	}
	second.kill(t)
}

var methodOf = map[string]gateways.Method{gatewaysim.VNPAY: gateways.MethodQR, gatewaysim.MoMo: gateways.MethodEwallet,
	gatewaysim.ZaloPay: gateways.MethodEwallet}

// buildSim builds this command into a temporary directory.
func buildSim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatewaysim")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// simProcess is a running gatewaysim binary.
type simProcess struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

// startSim starts bin on a free port with the data dir and waits for its
// listening line.
func startSim(t *testing.T, bin, dataDir, callbackBase string) *simProcess {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-data-dir", dataDir, "-callback-base", callbackBase, "-log-level", "error")
	for _, kv := range os.Environ() { // the demo credentials, whatever this environment says
		if !strings.HasPrefix(kv, "CIVICPAY_") && !strings.HasPrefix(kv, "GATEWAYSIM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &simProcess{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() { p.kill(t) })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "gatewaysim listening on "); ok {
				a, _, _ := strings.Cut(rest, " ")
				addr <- a
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatal("gatewaysim exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("gatewaysim did not start listening")
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *simProcess) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	<-p.done
}

func adapters(t *testing.T, base string) map[string]gateways.Gateway {
	t.Helper()
	v, err := vnpay.New(vnpay.Config{BaseURL: base + "/vnpay", TmnCode: gatewaysim.DemoVNPAYTmnCode,
		HashSecret: gatewaysim.DemoVNPAYHashSecret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := momo.New(momo.Config{BaseURL: base + "/momo", PartnerCode: gatewaysim.DemoMoMoPartnerCode,
		AccessKey: gatewaysim.DemoMoMoAccessKey, SecretKey: gatewaysim.DemoMoMoSecretKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zalopay.New(zalopay.Config{BaseURL: base + "/zalopay", AppID: gatewaysim.DemoZaloPayAppID,
		Key1: gatewaysim.DemoZaloPayKey1, Key2: gatewaysim.DemoZaloPayKey2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]gateways.Gateway{gatewaysim.VNPAY: v, gatewaysim.MoMo: m, gatewaysim.ZaloPay: z}
}

// callbackSink plays civicpay's callback endpoints with the real adapters:
// it answers "try again" until acknowledge is set, then acknowledges.
type callbackSink struct {
	srv         *httptest.Server
	acknowledge atomic.Bool
	mu          sync.Mutex
	acked       map[string]bool // gateway reference → a successful payment's callback acknowledged
	adapt       map[string]gateways.Gateway
}

func newCallbackSink(t *testing.T) *callbackSink {
	s := &callbackSink{acked: map[string]bool{}, adapt: adapters(t, "http://127.0.0.1:1")}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := s.adapt[strings.TrimPrefix(r.URL.Path, "/callbacks/")]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		res, err := a.ParseCallback(gateways.CallbackRequest{Method: r.Method, Query: r.URL.Query(), Header: r.Header, Body: body})
		ack := gateways.AckError
		if err == nil && s.acknowledge.Load() {
			ack = gateways.AckOK
			if res.Status == gateways.StatusSucceeded {
				s.mu.Lock()
				s.acked[res.GatewayRef] = true
				s.mu.Unlock()
			}
		}
		status, ct, out := a.Reply(ack)
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *callbackSink) acknowledged(ref string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked[ref]
}
