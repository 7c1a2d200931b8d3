package app

import (
	"fmt"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/app/config"
)

func TestParsePreferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, err string
	}{
		{"", "map[]", ""},
		{"ewallet=zalopay,momo", "map[ewallet:[zalopay momo]]", ""},
		{" ewallet = zalopay , momo ; card=vnpay;", "map[card:[vnpay] ewallet:[zalopay momo]]", ""},
		{"cash=vnpay", "", "cash=vnpay"},
		{"ewallet", "", "ewallet"},
	}
	for _, tt := range tests {
		got, err := parsePreferences(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parsePreferences(%q) error %v, want one naming %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || fmt.Sprint(got) != tt.want):
			t.Errorf("parsePreferences(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestBuildGateways(t *testing.T) {
	t.Parallel()
	cfg := config.DemoPaying("http://127.0.0.1:8090")
	gws, err := buildGateways(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gws {
		names = append(names, g.Name())
	}
	if strings.Join(names, ",") != "vnpay,momo,zalopay,vietqr" {
		t.Fatalf("gateways %v", names)
	}
	cfg.Gateways = []string{"none"}
	if gws, err := buildGateways(cfg); err != nil || len(gws) != 0 {
		t.Fatalf("none: %v %v", gws, err)
	}
	cfg.Gateways = []string{"vnpay", "paypal"}
	if _, err := buildGateways(cfg); err == nil || !strings.Contains(err.Error(), "paypal") {
		t.Fatalf("unknown gateway: %v", err)
	}
	cfg = config.DemoPaying("http://127.0.0.1:8090")
	cfg.MoMoSecretKey = ""
	if _, err := buildGateways(cfg); err == nil {
		t.Fatal("a gateway without its secret was built")
	}
}
