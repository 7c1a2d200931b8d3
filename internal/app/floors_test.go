package app_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The module's packages stand on floors; a package may import only from the
// floors this table allows it (its own floor included, where listed). It is
// the table of docs/ARCHITECTURE.md: change both together.
//
//	composition root  internal/app/...       → domain, foundation, migrations
//	domain            payments/..., ledger, gateways/..., reconciliation/...,
//	                  webhooks, internal/domain/*
//	                                         → the domains domainEdges allows, foundation
//	foundation        internal/foundation/*  → foundation
//	migrations        migrations             → foundation
//	test kit          internal/testkit/*     → anything but cmd
//	simulator         internal/sim/*         → domain, foundation, internal/app/demo
//	commands          cmd/*                  → anything but cmd; the test kit and the
//	                                           simulator only from cmd/gatewaysim and cmd/bench*
//
// Tests (_test.go files) may import any floor, except that the tests of the
// foundation and migrations stay below the domains: they may use the test kit,
// nothing above it.
const (
	floorApp        = "composition root"
	floorDomain     = "domain"
	floorFoundation = "foundation"
	floorMigrations = "migrations"
	floorTestkit    = "test kit"
	floorSim        = "simulator"
	floorCmd        = "commands"
)

// domainEdges lists, for each domain, the other domains its non-test code
// may import: the edges there are today. A new edge between domains is a
// design decision; make it here, with the reason.
var domainEdges = map[string][]string{
	"internal/domain/audit": nil,
	"internal/domain/auth":  {"internal/domain/audit"}, // key changes are audited
	"gateways":              nil,
	"ledger":                {"internal/domain/audit", "internal/domain/auth"},
	"webhooks":              {"internal/domain/audit", "internal/domain/auth"},
	// payments posts to the ledger and pays through the gateways' router.
	"payments": {"gateways", "internal/domain/audit", "internal/domain/auth", "ledger"},
	// reconciliation records payments the statements confirm, queries the
	// gateways and posts fees and differences to the ledger.
	"reconciliation": {"gateways", "internal/domain/audit", "internal/domain/auth", "ledger", "payments"},
	// the staff console reads revenue through the ledger's own query, lists
	// and shows orders through payments' own read functions, and audits
	// every staff action. It acts (refunds, cancels, endpoints, keys,
	// catalogue) through the same domain functions the API calls (console.Deps),
	// and shows the gateways' breakers. Treasury works reconciliation's
	// exceptions through reconciliation's own functions (the exception queue);
	// the dashboard counts the open ones (reconciliation.CountOpenExceptions).
	"console": {"gateways", "internal/domain/audit", "internal/domain/auth", "ledger", "payments", "reconciliation", "webhooks"},
	// the generated API client stands alone: it speaks HTTP to the service.
	"client": nil,
}

const module = "github.com/civicpay/civicpay"

// floorOf gives a package's floor and, for a domain, the domain it belongs
// to (a subpackage belongs to its top directory's domain).
func floorOf(importPath string) (floor, domain string) {
	p := strings.TrimPrefix(importPath, module+"/")
	parts := strings.Split(p, "/")
	switch {
	case parts[0] == "cmd":
		return floorCmd, ""
	case parts[0] == "migrations":
		return floorMigrations, ""
	case parts[0] == "internal" && len(parts) > 1:
		switch parts[1] {
		case "app":
			return floorApp, ""
		case "foundation":
			return floorFoundation, ""
		case "testkit":
			return floorTestkit, ""
		case "sim":
			return floorSim, ""
		case "domain":
			if len(parts) > 2 {
				return floorDomain, "internal/domain/" + parts[2]
			}
		}
	case slices.Contains([]string{"payments", "ledger", "gateways", "reconciliation", "webhooks", "console", "client"}, parts[0]):
		return floorDomain, parts[0]
	}
	return "", ""
}

// allowed says whether non-test code of from may import to, and if not, why.
func allowed(from, to string) (bool, string) {
	ff, fd := floorOf(from)
	tf, td := floorOf(to)
	switch ff {
	case floorFoundation:
		return tf == floorFoundation, "the foundation imports only the foundation"
	case floorMigrations:
		return tf == floorFoundation, "migrations import only the foundation"
	case floorDomain:
		if tf == floorFoundation || fd == td {
			return true, ""
		}
		if tf == floorDomain && slices.Contains(domainEdges[fd], td) {
			return true, ""
		}
		return false, fmt.Sprintf("domain %s may import the foundation and only these domains: %s (domainEdges)",
			fd, strings.Join(domainEdges[fd], ", "))
	case floorApp:
		return tf == floorApp || tf == floorDomain || tf == floorFoundation || tf == floorMigrations,
			"the composition root imports domains, the foundation and migrations, never the test kit or the simulator"
	case floorTestkit:
		return tf != floorCmd, "the test kit imports no command"
	case floorSim:
		return tf == floorSim || tf == floorDomain || tf == floorFoundation || to == module+"/internal/app/demo",
			"the simulator imports domains, the foundation and the demo credentials (internal/app/demo), not the app"
	case floorCmd:
		if tf == floorTestkit || tf == floorSim {
			name := strings.TrimPrefix(from, module+"/cmd/")
			return name == "gatewaysim" || strings.HasPrefix(name, "bench"),
				"only cmd/gatewaysim and cmd/bench* may use the test kit or the simulator"
		}
		return tf != floorCmd, "a command imports no other command"
	}
	return false, "unknown floor"
}

// allowedInTest says whether a _test.go file of from may import to.
func allowedInTest(from, to string) (bool, string) {
	ff, _ := floorOf(from)
	tf, _ := floorOf(to)
	if ff == floorFoundation || ff == floorMigrations {
		return tf == floorFoundation || tf == floorMigrations || tf == floorTestkit,
			"tests of the foundation and migrations use the foundation, migrations and the test kit only"
	}
	return true, ""
}

type listedPackage struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
}

// modulePackages lists the module's packages with `go list`.
func modulePackages(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestFloors: every import between the module's packages keeps to the floors
// above; a new one that does not fails here, naming the importer and the import.
func TestFloors(t *testing.T) {
	t.Parallel()
	pkgs := modulePackages(t)
	if len(pkgs) < 30 {
		t.Fatalf("go list found %d packages; want the whole module", len(pkgs))
	}
	used := map[[2]string]bool{}
	var bad []string
	for _, p := range pkgs {
		if f, _ := floorOf(p.ImportPath); f == "" {
			bad = append(bad, fmt.Sprintf("%s is on no floor: give it one in floors_test.go and docs/ARCHITECTURE.md", p.ImportPath))
			continue
		}
		check := func(imports []string, ok func(from, to string) (bool, string), where string) {
			for _, imp := range imports {
				if !strings.HasPrefix(imp, module+"/") {
					continue
				}
				if good, why := ok(p.ImportPath, imp); !good {
					bad = append(bad, fmt.Sprintf("%s%s imports %s: %s", p.ImportPath, where, imp, why))
				}
				_, fd := floorOf(p.ImportPath)
				_, td := floorOf(imp)
				if where == "" && fd != "" && td != "" && fd != td {
					used[[2]string{fd, td}] = true
				}
			}
		}
		check(p.Imports, allowed, "")
		check(slices.Concat(p.TestImports, p.XTestImports), allowedInTest, " (in a test)")
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
	// The table should say what is, not what once was.
	for from, tos := range domainEdges {
		for _, to := range tos {
			if !used[[2]string{from, to}] {
				t.Logf("domainEdges allows %s → %s, which no package uses any more: drop it", from, to)
			}
		}
	}
}

// TestFloorsCatchesABadImport: the rules refuse what they are there for.
func TestFloorsCatchesABadImport(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"internal/foundation/db", "payments", false},
		{"internal/foundation/db", "internal/testkit/pgtest", false},
		{"internal/foundation/problem", "internal/foundation/db", true},
		{"ledger", "payments", false},
		{"payments/pages", "payments", true},
		{"payments", "ledger", true},
		{"gateways/momo", "internal/app", false},
		{"webhooks", "internal/sim/gatewaysim", false},
		{"internal/app", "internal/testkit/apptest", false},
		{"internal/app", "reconciliation", true},
		{"internal/sim/gatewaysim", "internal/app", false},
		{"internal/sim/gatewaysim", "internal/app/demo", true},
		{"cmd/civicpay", "internal/testkit/pgtest", false},
		{"cmd/civicpay", "internal/app", true},
		{"cmd/benchpay", "internal/sim/gatewaysim", true},
		{"cmd/gatewaysim", "internal/sim/gatewaysim", true},
	} {
		if got, _ := allowed(module+"/"+c.from, module+"/"+c.to); got != c.ok {
			t.Errorf("allowed(%s → %s) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
	if ok, _ := allowedInTest(module+"/internal/foundation/db", module+"/internal/testkit/pgtest"); !ok {
		t.Error("a foundation test may use pgtest")
	}
	if ok, _ := allowedInTest(module+"/internal/foundation/db", module+"/payments"); ok {
		t.Error("a foundation test may not import a domain")
	}
}
