package console

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
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
	// Charts are the daily net of the last 30 business days, one per
	// currency; Days the same figures as a table.
	Charts []template.HTML
	Days   []dayNet
	// Gateways are the gateways' breakers, as GET /v1/gateways shows them
	// (HasRouter false when the console was built without the router).
	HasRouter bool
	Gateways  []gatewayState
	// OpenExceptions is for treasury and admin only (ShowRecon).
	ShowRecon      bool
	OpenExceptions int64
	// ByAgency is, for treasury and admin, each agency's revenue today and
	// over the last 30 business days.
	ByAgency []agencyRevenue
}

// agencyRevenue is one agency's revenue in one currency.
type agencyRevenue struct {
	Agency, Currency, Today, Gross, Refunds, Net string
}

// byAgency is each agency's revenue over the rows' 30 days and today (from
// first, a YYYY-MM-DD), per currency, from rows grouped by day and agency.
func byAgency(rows []ledger.RevenueRow, first, lang string) []agencyRevenue {
	type key struct{ agency, currency string }
	month30, day := map[key]ledger.RevenueRow{}, map[key]decimal.Decimal{}
	var order []key
	for _, r := range rows {
		k := key{r.Agency, r.Currency}
		m, seen := month30[k]
		if !seen {
			order = append(order, k)
		}
		m.Gross, m.Refunds, m.Net = m.Gross.Add(r.Gross), m.Refunds.Add(r.Refunds), m.Net.Add(r.Net)
		month30[k] = m
		if r.Day >= first {
			day[k] = day[k].Add(r.Net)
		}
	}
	slices.SortStableFunc(order, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.agency, b.agency), cmp.Compare(a.currency, b.currency))
	})
	out := make([]agencyRevenue, 0, len(order))
	for _, k := range order {
		m := month30[k]
		out = append(out, agencyRevenue{Agency: k.agency, Currency: k.currency, Today: formatAmount(day[k], k.currency, lang),
			Gross: formatAmount(m.Gross, k.currency, lang), Refunds: formatAmount(m.Refunds, k.currency, lang),
			Net: formatAmount(m.Net, k.currency, lang)})
	}
	return out
}

// dayNet is one business day's net, per currency, for the chart's table.
type dayNet struct {
	Day  string
	Nets []amountRow // Currency and Net only
}

// gatewayState is a gateway's two breakers, their states as message keys.
type gatewayState struct {
	Name, Methods, Create, Query string
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

// Dashboard reads the dashboard's figures for u (an agency user's agency
// only): revenue through ledger.Revenue, the function behind GET
// /v1/revenue, read once by business day over the last 30 days, from which
// each window's totals per currency (as that endpoint's totals are) and the
// chart of daily net are made; the orders created in the last 30 business
// days by status; the gateways' breakers; and, for treasury and admin, the
// reconciliation exceptions still open.
func (h *Handler) Dashboard(ctx context.Context, u User, lang string) (dashboardData, error) {
	agency := ""
	if u.Role == RoleAgency {
		agency = u.AgencyCode
	}
	d := dashboardData{Agency: agency}
	now := h.clock.Now()
	windows := Windows(now)
	month := windows[len(windows)-1]
	// One read: by day, and for treasury and admin also by agency (the
	// per-agency table comes from the same rows).
	q := ledger.RevenueQuery{From: month.From, To: month.To, GroupBy: []ledger.Dimension{ledger.ByDay}, Agency: agency}
	if agency == "" {
		q.GroupBy = append(q.GroupBy, ledger.ByAgency)
	}
	var days []ledger.RevenueRow
	if err := ledger.Revenue(ctx, h.reports(), q, func(r ledger.RevenueRow) error {
		days = append(days, r)
		return nil
	}); err != nil {
		return d, fmt.Errorf("console: dashboard revenue: %w", err)
	}
	for _, w := range windows {
		first, end := w.From.Format(time.DateOnly), w.To.Format(time.DateOnly)
		var totals ledger.RevenueTotals
		for _, r := range days {
			if r.Day >= first && r.Day < end { // YYYY-MM-DD compares as dates do
				totals.Add(r)
			}
		}
		win := window{Key: w.Key, Span: first}
		if last := w.To.AddDate(0, 0, -1); !last.Equal(w.From) {
			win.Span += " – " + last.Format(time.DateOnly)
		}
		for _, r := range totals.Rows() {
			win.Rows = append(win.Rows, amountRow{Currency: r.Currency, Gross: formatAmount(r.Gross, r.Currency, lang),
				Refunds: formatAmount(r.Refunds, r.Currency, lang), Net: formatAmount(r.Net, r.Currency, lang)})
		}
		d.Windows = append(d.Windows, win)
	}
	d.Charts, d.Days = dailyNet(days, q, lang)
	if agency == "" {
		d.ByAgency = byAgency(days, windows[0].From.Format(time.DateOnly), lang)
	}

	// An agency sees the orders with a line of its own, as in the API: its
	// first line's agency is the order's, the later lines' are indexed
	// (order_lines_later_agency_idx; without line_no > 1 the lines of every
	// order of the agency were read, 1 s at 1,000,000 orders).
	var open, paid, expired int64
	err := h.reports().QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'open'), count(*) FILTER (WHERE status = 'paid'),
			count(*) FILTER (WHERE status = 'expired')
		FROM orders o
		WHERE o.created_at >= $1 AND ($2 = '' OR o.agency_code = $2
			OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.agency_code = $2 AND l.line_no > 1))`,
		bizday.Start(now).AddDate(0, 0, -29), agency).Scan(&open, &paid, &expired)
	if err != nil {
		return d, fmt.Errorf("console: dashboard orders: %w", err)
	}
	d.Orders = []orderCount{{"open", open}, {"paid", paid}, {"expired", expired}}

	if h.deps.Gateways != nil {
		d.HasRouter = true
		for _, st := range h.deps.Gateways.Stats() { // what GET /v1/gateways answers
			methods := make([]string, len(st.Methods))
			for i, m := range st.Methods {
				methods[i] = string(m)
			}
			d.Gateways = append(d.Gateways, gatewayState{Name: st.Name, Methods: strings.Join(methods, ", "),
				Create: "breaker." + st.State, Query: "breaker." + st.Query.State})
		}
	}
	if u.Role == RoleTreasury || u.Role == RoleAdmin {
		d.ShowRecon = true
		if d.OpenExceptions, err = reconciliation.CountOpenExceptions(ctx, h.reports()); err != nil {
			return d, fmt.Errorf("console: dashboard: %w", err)
		}
	}
	return d, nil
}

// dailyNet is the chart of each business day's net over q's range, one per
// currency (in currency order; none when nothing was posted), and the same
// figures as a table, a row per day.
func dailyNet(days []ledger.RevenueRow, q ledger.RevenueQuery, lang string) ([]template.HTML, []dayNet) {
	var totals ledger.RevenueTotals
	net := map[[2]string]decimal.Decimal{}
	for _, r := range days {
		totals.Add(r)
		k := [2]string{r.Day, r.Currency} // one row per day, or per day and agency
		net[k] = net[k].Add(r.Net)
	}
	currencies := totals.Rows()
	v := &view{Lang: lang}
	var charts []template.HTML
	var table []dayNet
	for day := q.From.In(bizday.Zone); day.Before(q.To); day = day.AddDate(0, 0, 1) {
		row := dayNet{Day: day.Format(time.DateOnly)}
		for _, c := range currencies {
			n := net[[2]string{row.Day, c.Currency}]
			row.Nets = append(row.Nets, amountRow{Currency: c.Currency, Net: formatAmount(n, c.Currency, lang)})
		}
		table = append(table, row)
	}
	for i, c := range currencies {
		s := series{currency: c.Currency}
		for _, row := range table {
			s.labels = append(s.labels, row.Day)
			s.net = append(s.net, net[[2]string{row.Day, c.Currency}])
		}
		span := table[0].Day + " – " + table[len(table)-1].Day
		charts = append(charts, netChart(fmt.Sprintf("dash-chart-%d", i+1), v, v.T("dash.chart.title", c.Currency), s, span).SVG())
	}
	return charts, table
}

func (h *Handler) dashboard(c *fiber.Ctx) error {
	cu := cur(c)
	v := h.newView(c, "dash.title")
	v.Nav = nav(cu.user, "dashboard")
	d, err := h.Dashboard(c.UserContext(), cu.user, v.Lang)
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
	return money.Grouped(d, group, point) + "\u00a0" + currency
}
