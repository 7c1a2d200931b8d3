package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"

	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
	"github.com/civicpay/civicpay/payments/reference"
)

// seedOrder is an order the payments tests put straight into the database.
type seedOrder struct {
	name    string // the test's own name for it
	lines   [][2]string
	status  string
	total   string
	created time.Time
	payer   string
	phone   string
	gateway string // an attempt through it, if not ""
}

type seeded struct {
	id  uuid.UUID
	ref string
}

// seed inserts the orders with their lines, a creation event and an attempt.
func (e *env) seed(orders ...seedOrder) map[string]seeded {
	e.t.Helper()
	ctx := context.Background()
	out := map[string]seeded{}
	for _, o := range orders {
		id := uuid.New()
		ref, err := reference.New()
		if err != nil {
			e.t.Fatal(err)
		}
		paid := "0"
		if o.status == "paid" {
			paid = o.total
		}
		if _, err := e.pool.Exec(ctx, `INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total,
			amount_paid, payer_name, payer_phone, description, expires_at, created_at, updated_at, idempotency_key, request_hash)
			VALUES ($1, $2, $3, $4, $5, 'VND', $6, $7, $8, nullif($9, ''), 'test', $10, $10, $10, $11, '\x00')`,
			id, ref, o.lines[0][1], uuid.New(), o.status, o.total, paid, o.payer, o.phone, o.created.Add(time.Hour), id.String()); err != nil {
			e.t.Fatalf("seed %s: %v", o.name, err)
		}
		for i, l := range o.lines {
			amount := o.total
			if len(o.lines) > 1 {
				amount = "100000"
			}
			if _, err := e.pool.Exec(ctx, `INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
				VALUES ($1, $2, $3, $4, 'fee', $5)`, id, i+1, l[0], l[1], amount); err != nil {
				e.t.Fatalf("seed %s line: %v", o.name, err)
			}
		}
		if _, err := e.pool.Exec(ctx, `INSERT INTO order_events (order_id, type, actor, created_at) VALUES ($1, 'order.created', 'key:test', $2)`,
			id, o.created); err != nil {
			e.t.Fatal(err)
		}
		if o.gateway != "" {
			if _, err := e.pool.Exec(ctx, `INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, currency, amount,
				status, created_by, created_at, updated_at, expires_at) VALUES ($1, $2, $3, 'card', $4, 'VND', $5, 'pending', 'key:test', $6, $6, $7)`,
				uuid.New(), id, o.gateway, "GW-"+id.String()[:8], o.total, o.created, o.created.Add(time.Hour)); err != nil {
				e.t.Fatalf("seed %s attempt: %v", o.name, err)
			}
		}
		out[o.name] = seeded{id: id, ref: ref}
	}
	return out
}

// threeOrders: A of STP-HCM only, B led by CSGT-HN with a line of STP-HCM,
// C of CSGT-HN only; created on three business days (t0 is 24 November,
// 10:00 GMT+7).
func threeOrders(e *env) map[string]seeded {
	return e.seed(
		seedOrder{name: "A", lines: [][2]string{{"LLTP", "STP-HCM"}}, status: "paid", total: "200000",
			created: t0.AddDate(0, 0, -1), payer: "Nguyễn Văn An", phone: "0901234567", gateway: "vnpay"},
		seedOrder{name: "B", lines: [][2]string{{"PHAT", "CSGT-HN"}, {"LLTP", "STP-HCM"}}, status: "open", total: "500000",
			created: t0.AddDate(0, 0, -2), payer: "Trần Thị Bình", phone: "0912000000", gateway: "momo"},
		seedOrder{name: "C", lines: [][2]string{{"PHAT", "CSGT-HN"}}, status: "expired", total: "150000",
			created: t0, payer: "=Lê Văn Cường"},
	)
}

var rowIDRE = regexp.MustCompile(`<tr data-id="([0-9a-f-]{36})"`)

// listed names the seeded orders a list page shows, in its order.
func listed(body string, orders map[string]seeded) []string {
	var out []string
	for _, m := range rowIDRE.FindAllStringSubmatch(body, -1) {
		name := "?" + m[1]
		for n, o := range orders {
			if o.id.String() == m[1] {
				name = n
			}
		}
		out = append(out, name)
	}
	return out
}

func TestPaymentsListFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	orders := threeOrders(e)
	_, secret := e.user("treasury@example.vn", RoleTreasury, "")
	b := e.browser()
	b.signIn(e, secret)

	typedRef := strings.ToLower(reference.Format(orders["A"].ref)) // "rf12 3456 ..."
	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"no filter, newest first", nil, []string{"C", "A", "B"}},
		{"reference typed with spaces, in lower case", url.Values{"reference": {"  " + typedRef + " "}}, []string{"A"}},
		{"reference not there", url.Values{"reference": {"RF00 1234"}}, nil},
		{"status", url.Values{"status": {"paid"}}, []string{"A"}},
		{"one business day", url.Values{"from": {"2026-11-23"}, "to": {"2026-11-23"}}, []string{"A"}},
		{"from a day on", url.Values{"from": {"2026-11-23"}}, []string{"C", "A"}},
		{"up to a day", url.Values{"to": {"2026-11-22"}}, []string{"B"}},
		{"service on any line, any case", url.Values{"service": {"lltp"}}, []string{"A", "B"}},
		{"gateway", url.Values{"gateway": {"momo"}}, []string{"B"}},
		{"amount range, inclusive", url.Values{"min": {"200000"}, "max": {"500000"}}, []string{"A", "B"}},
		{"amount at least", url.Values{"min": {"200001"}}, []string{"B"}},
		{"part of the payer's name", url.Values{"name": {"văn"}}, []string{"C", "A"}},
		{"a LIKE wildcard is literal", url.Values{"name": {"%"}}, nil},
		{"payer phone typed with spaces", url.Values{"phone": {"090 123 4567"}}, []string{"A"}},
		{"payer phone is matched whole", url.Values{"phone": {"0901"}}, nil},
		{"filters combine", url.Values{"service": {"LLTP"}, "status": {"open"}}, []string{"B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get("/console/payments?" + tc.query.Encode())
			if p.status != http.StatusOK {
				t.Fatalf("status %d\n%s", p.status, p.body)
			}
			if got := listed(p.body, orders); !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			if len(tc.want) == 0 && !strings.Contains(p.body, `id="no-orders"`) {
				t.Error("an empty list does not say so")
			}
		})
	}
	for _, bad := range []url.Values{{"status": {"lost"}}, {"from": {"24/11/2026"}}, {"min": {"-1"}}, {"max": {"lots"}}, {"cursor": {"nope"}}} {
		if p := b.get("/console/payments?" + bad.Encode()); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="error"`) {
			t.Errorf("%v: status %d, want 400 with the error shown", bad, p.status)
		}
	}
	// The form keeps what was typed.
	if p := b.get("/console/payments?reference=" + url.QueryEscape(typedRef)); !strings.Contains(p.body, `value="`+typedRef+`"`) {
		t.Error("the reference field does not keep what was typed")
	}
}

func TestPaymentsKeysetPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.PageSize = 2 })
	var specs []seedOrder
	var want []string
	for i := range 5 {
		name := string(rune('a' + i))
		specs = append(specs, seedOrder{name: name, lines: [][2]string{{"LLTP", "STP-HCM"}}, status: "open", total: "100000",
			created: t0.Add(-time.Duration(i) * time.Minute), payer: "P"})
		want = append(want, name)
	}
	// Two orders created at the same instant: the id breaks the tie.
	specs = append(specs, seedOrder{name: "f", lines: [][2]string{{"LLTP", "STP-HCM"}}, status: "open", total: "100000",
		created: t0.Add(-10 * time.Minute), payer: "P"},
		seedOrder{name: "g", lines: [][2]string{{"LLTP", "STP-HCM"}}, status: "open", total: "100000",
			created: t0.Add(-10 * time.Minute), payer: "P"})
	orders := e.seed(specs...)
	_, secret := e.user("admin@example.vn", RoleAdmin, "")
	b := e.browser()
	b.signIn(e, secret)

	var got []string
	path := "/console/payments?service=LLTP"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: status %d", path, p.status)
		}
		rows := listed(p.body, orders)
		if len(rows) > 2 {
			t.Fatalf("a page of %d rows, want at most 2", len(rows))
		}
		got = append(got, rows...)
		path = ""
		if m := regexp.MustCompile(`href="([^"]+)" id="next"`).FindStringSubmatch(p.body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
			if !strings.Contains(path, "service=LLTP") {
				t.Errorf("the next link %q loses the filter", path)
			}
		}
	}
	if len(got) != 7 || !slices.Equal(got[:5], want) {
		t.Errorf("paged through %v, want %v then f and g", got, want)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(got)))) != 7 {
		t.Errorf("an order listed twice: %v", got)
	}
}

func TestPaymentsAgencyScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.ExportBatch = 1 })
	orders := threeOrders(e)
	_, stp := e.user("stp@example.vn", RoleAgency, "STP-HCM")
	_, csgt := e.user("csgt@example.vn", RoleAgency, "CSGT-HN")
	_, admin := e.user("admin@example.vn", RoleAdmin, "")

	for _, tc := range []struct {
		secret string
		sees   []string
		hidden []string
	}{
		{stp, []string{"A", "B"}, []string{"C"}},
		{csgt, []string{"C", "B"}, []string{"A"}},
		{admin, []string{"C", "A", "B"}, nil},
	} {
		b := e.browser()
		b.signIn(e, tc.secret)
		who := e.emails[tc.secret]
		if got := listed(b.get("/console/payments").body, orders); !slices.Equal(got, tc.sees) {
			t.Errorf("%s lists %v, want %v", who, got, tc.sees)
		}
		// Even asked by reference, another agency's order is not listed.
		for _, n := range tc.hidden {
			if got := listed(b.get("/console/payments?reference="+orders[n].ref).body, orders); len(got) != 0 {
				t.Errorf("%s finds %s by its reference: %v", who, n, got)
			}
			if p := b.get("/console/payments/" + orders[n].id.String()); p.status != http.StatusNotFound || strings.Contains(p.body, orders[n].ref) {
				t.Errorf("%s opens %s: status %d", who, n, p.status)
			}
		}
		for _, n := range tc.sees {
			p := b.get("/console/payments/" + orders[n].id.String())
			if p.status != http.StatusOK || !strings.Contains(p.body, orders[n].ref) {
				t.Errorf("%s cannot open %s: status %d", who, n, p.status)
			}
		}
		// Both exports hold exactly what the list shows (read one order per
		// query: ExportBatch 1), and the same rows.
		csvRows := exportCSV(t, b, "/console/payments/export.csv")
		xlsxRows := exportXLSX(t, b, "/console/payments/export.xlsx")
		if got := exportedNames(csvRows, orders); !slices.Equal(got, tc.sees) {
			t.Errorf("%s's CSV holds %v, want %v", who, got, tc.sees)
		}
		if len(csvRows) != len(xlsxRows) {
			t.Fatalf("%s: CSV %d rows, XLSX %d", who, len(csvRows), len(xlsxRows))
		}
		for i := range csvRows {
			neutral := make([]string, len(xlsxRows[i]))
			for j, s := range xlsxRows[i] {
				neutral[j] = csvsafe.Cell(s)
			}
			if !slices.Equal(csvRows[i], neutral) {
				t.Errorf("%s row %d: CSV %q, XLSX %q", who, i, csvRows[i], xlsxRows[i])
			}
		}
	}
}

func exportCSV(t *testing.T, b *browser, path string) [][]string {
	t.Helper()
	p := b.get(path)
	if p.status != http.StatusOK {
		t.Fatalf("%s: status %d\n%s", path, p.status, p.body)
	}
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func exportXLSX(t *testing.T, b *browser, path string) [][]string {
	t.Helper()
	p := b.get(path)
	if p.status != http.StatusOK {
		t.Fatalf("%s: status %d", path, p.status)
	}
	f, err := excelize.OpenReader(bytes.NewReader([]byte(p.body)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	rows, err := f.GetRows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	// GetRows leaves out a row's empty trailing cells; the CSV has them all.
	for i := range rows {
		for len(rows[i]) < len(exportHeader) {
			rows[i] = append(rows[i], "")
		}
	}
	return rows
}

func exportedNames(rows [][]string, orders map[string]seeded) []string {
	var out []string
	for _, r := range rows[1:] {
		name := "?" + r[0]
		for n, o := range orders {
			if o.id.String() == r[0] {
				name = n
			}
		}
		out = append(out, name)
	}
	return out
}

func TestPaymentsExportFilteredNeutralisedAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	orders := threeOrders(e)
	u, secret := e.user("treasury@example.vn", RoleTreasury, "")
	b := e.browser()
	b.signIn(e, secret)

	rows := exportCSV(t, b, "/console/payments/export.csv?status=expired")
	if !slices.Equal(rows[0], exportHeader) {
		t.Errorf("header %v", rows[0])
	}
	if got := exportedNames(rows, orders); !slices.Equal(got, []string{"C"}) {
		t.Fatalf("filtered CSV holds %v, want [C]", got)
	}
	if name := rows[1][6]; name != "'=Lê Văn Cường" {
		t.Errorf("payer name cell %q: a formula is not neutralised", name)
	}
	if total := rows[1][9]; total != "150000" {
		t.Errorf("total cell %q, want the plain decimal", total)
	}
	xrows := exportXLSX(t, b, "/console/payments/export.xlsx?status=expired")
	if len(xrows) != 2 || xrows[1][0] != orders["C"].id.String() {
		t.Errorf("filtered XLSX: %v", xrows)
	}
	if p := b.get("/console/payments/export.csv?status=lost"); p.status != http.StatusBadRequest {
		t.Errorf("a bad filter exports: status %d", p.status)
	}

	r, err := e.pool.Query(context.Background(), `SELECT actor, resource_id, after->>'scope', after->'filter'->'status'->>0
		FROM audit_log WHERE action = 'payments.export' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for r.Next() {
		var actor, format, scope, status string
		if err := r.Scan(&actor, &format, &scope, &status); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{actor, format, scope, status}, " "))
	}
	want := []string{"user:" + u.ID.String() + " csv all expired", "user:" + u.ID.String() + " xlsx all expired"}
	if !slices.Equal(got, want) {
		t.Errorf("audit log %q, want %q", got, want)
	}
}

func TestPaymentOrderPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	orders := threeOrders(e)
	_, secret := e.user("admin@example.vn", RoleAdmin, "")
	b := e.browser()
	b.signIn(e, secret)

	p := b.get("/console/payments/" + orders["B"].id.String())
	if p.status != http.StatusOK {
		t.Fatalf("status %d\n%s", p.status, p.body)
	}
	for _, want := range []string{orders["B"].ref, "Trần Thị Bình", "PHAT", "CSGT-HN", "STP-HCM", "momo", "order.created", "500,000\u00a0VND"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the order page lacks %q", want)
		}
	}
	for _, path := range []string{"/console/payments/" + uuid.NewString(), "/console/payments/not-an-id"} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, p.status)
		}
	}
	// Signed out, nothing is shown.
	if p := e.browser().get("/console/payments/" + orders["B"].id.String()); p.status != http.StatusSeeOther {
		t.Errorf("signed out: status %d, want a redirect to sign in", p.status)
	}
}
