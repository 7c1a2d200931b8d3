package gatewaysim

import (
	"context"
	"errors"
	"testing"

	"github.com/civicpay/civicpay/gateways"
)

// TestProbe: each adapter's Probe (what the router sends while a breaker is
// open) is an ordinary request of the gateway's protocol that the simulator
// answers as a real gateway would — "not found", no error the breaker would
// count — and that changes nothing there; while the gateway's API fails, the
// probe reports the technical failure.
func TestProbe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{VNPAY, MoMo, ZaloPay} {
		t.Run(name, func(t *testing.T) {
			p, ok := e.gw[name].(gateways.Prober)
			if !ok {
				t.Fatalf("%s's adapter is no gateways.Prober", name)
			}
			before := len(e.sim.Transactions(TransactionFilter{}))
			err := p.Probe(context.Background())
			t.Logf("answered: %v", err)
			if gateways.IsTechnical(err) || errors.Is(err, gateways.ErrInvalidRequest) || errors.Is(err, gateways.ErrUnsupported) {
				t.Errorf("probe of a working gateway: %v, want an answer", err)
			}
			if n := len(e.sim.Transactions(TransactionFilter{})); n != before {
				t.Errorf("the probe made %d transactions", n-before)
			}
		})
	}
	for _, name := range []string{VNPAY, MoMo, ZaloPay} {
		check(t, e.sim.SetFaults(name, Faults{ErrorRate: 1}))
		if err := e.gw[name].(gateways.Prober).Probe(context.Background()); !gateways.IsTechnical(err) {
			t.Errorf("%s: probe of a gateway answering 503: %v, want a technical error", name, err)
		}
	}
}
