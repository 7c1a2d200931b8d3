package console

import (
	"context"
	"slices"
	"testing"
)

// TestDashboardOrderCounts: the dashboard counts an agency's orders whether
// its line is the first or a later one, and no other agency's.
func TestDashboardOrderCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	threeOrders(e) // A: STP-HCM paid; B: CSGT-HN then STP-HCM, open; C: CSGT-HN expired
	tests := []struct {
		agency string
		want   []orderCount
	}{
		{"STP-HCM", []orderCount{{"open", 1}, {"paid", 1}, {"expired", 0}}},
		{"CSGT-HN", []orderCount{{"open", 1}, {"paid", 0}, {"expired", 1}}},
		{"", []orderCount{{"open", 1}, {"paid", 1}, {"expired", 1}}},
		{"TNMT-DN", []orderCount{{"open", 0}, {"paid", 0}, {"expired", 0}}},
	}
	for _, tt := range tests {
		u := User{Role: RoleTreasury}
		if tt.agency != "" {
			u = User{Role: RoleAgency, AgencyCode: tt.agency}
		}
		d, err := e.h.Dashboard(context.Background(), u, langEN)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Orders, tt.want) {
			t.Errorf("agency %q: orders %v, want %v", tt.agency, d.Orders, tt.want)
		}
	}
}
