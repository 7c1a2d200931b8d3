package console

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/ledger"
)

// window is a period of the dashboard: [From, To) in business days.
type window struct {
	Key  string
	Span string
	Rows []amountRow
}

// amountRow is one currency's revenue, formatted for the page.
type amountRow struct {
	Currency, Gross, Refunds, Net string
}

type orderCount struct {
	Status string
	Count  int64
}

type dashboardData struct {
	Agency  string
	Windows []window
	Orders  []orderCount
}

// Windows are today, yesterday, and the last 7 and 30 business days
// (today included), in GMT+7, as [from, to) instants.
func Windows(now time.Time) []struct {
	Key      string
	From, To time.Time
} {
	today := bizday.Start(now)
	tomorrow := today.AddDate(0, 0, 1)
	return []struct {
		Key      string
		From, To time.Time
	}{
		{"today", today, tomorrow},
		{"yesterday", today.AddDate(0, 0, -1), today},
		{"7", today.AddDate(0, 0, -6), tomorrow},
		{"30", today.AddDate(0, 0, -29), tomorrow},
	}
}

// Dashboard reads the dashboard's figures for agency ("" for all): revenue
// through ledger.Revenue, the function behind GET /v1/revenue, totalled per
// currency as that endpoint's totals are; and the orders created in the last
// 30 business days by status.
func (h *Handler) Dashboard(ctx context.Context, agency string, lang string) (dashboardData, error) {
	d := dashboardData{Agency: agency}
	now := h.clock.Now()
	for _, w := range Windows(now) {
		var totals ledger.RevenueTotals
		err := ledger.Revenue(ctx, h.pool, ledger.RevenueQuery{From: w.From, To: w.To, Agency: agency}, func(r ledger.RevenueRow) error {
			totals.Add(r)
			return nil
		})
		if err != nil {
			return d, fmt.Errorf("console: dashboard revenue %s: %w", w.Key, err)
		}
		win := window{Key: w.Key, Span: w.From.Format(time.DateOnly)}
		if last := w.To.AddDate(0, 0, -1); !last.Equal(w.From) {
			win.Span += " – " + last.Format(time.DateOnly)
		}
		for _, r := range totals.Rows() {
			win.Rows = append(win.Rows, amountRow{Currency: r.Currency, Gross: formatAmount(r.Gross, r.Currency, lang),
				Refunds: formatAmount(r.Refunds, r.Currency, lang), Net: formatAmount(r.Net, r.Currency, lang)})
		}
		d.Windows = append(d.Windows, win)
	}
	// An agency sees the orders with a line of its own, as in the API: its
	// first line's agency is the order's, the later lines' are indexed
	// (order_lines_later_agency_idx; without line_no > 1 the lines of every
	// order of the agency were read, 1 s at 1,000,000 orders).
	var open, paid, expired int64
	err := h.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status = 'paid'),
			count(*) FILTER (WHERE status = 'expired')
		FROM orders o
		WHERE o.created_at >= $1 AND ($2 = '' OR o.agency_code = $2
			OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.agency_code = $2 AND l.line_no > 1))`,
		bizday.Start(now).AddDate(0, 0, -29), agency).Scan(&open, &paid, &expired)
	if err != nil {
		return d, fmt.Errorf("console: dashboard orders: %w", err)
	}
	d.Orders = []orderCount{{"open", open}, {"paid", paid}, {"expired", expired}}
	return d, nil
}

func (h *Handler) dashboard(c *fiber.Ctx) error {
	cu := cur(c)
	v := h.newView(c, "dash.title")
	v.Nav = nav(cu.user, "dashboard")
	agency := ""
	if cu.user.Role == RoleAgency {
		agency = cu.user.AgencyCode
	}
	d, err := h.Dashboard(c.UserContext(), agency, v.Lang)
	if err != nil {
		return h.fail(c, err)
	}
	v.Data = d
	return h.render(c, http.StatusOK, "dashboard", v)
}

// formatAmount writes an amount as a reader of lang expects: "200.000 VND"
// in Vietnamese, "200,000 VND" in English; digits are never rounded away.
func formatAmount(d decimal.Decimal, currency, lang string) string {
	group, point := ".", ","
	if lang == langEN {
		group, point = ",", "."
	}
	s := d.String()
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString(point + frac)
	}
	return b.String() + "\u00a0" + currency
}
