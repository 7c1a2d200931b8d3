package config

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/app/demo"
)

var update = flag.Bool("update", false, "rewrite README.md's configuration table from the struct tags")

// The generated part of README.md lies between these lines.
const (
	tableBegin = "<!-- BEGIN configuration table: generated from internal/app/config by `go generate ./internal/app/config` (go test -run TestREADMEConfigTable -update); do not edit -->"
	tableEnd   = "<!-- END configuration table -->"
	readmePath = "../../../README.md"
)

// outside are the variables read by something other than Load: by
// civicpay's commands beside serve, by gatewaysim and by the benchmarks.
// TestEveryGetenvIsListed keeps the list whole.
var outside = []struct{ name, program, meaning string }{
	{"USER", "`civicpay` commands", "Names the operator in what a command records (`cli:<user>`) when the operating system's user cannot be looked up."},
	{"CIVICPAY_VNPAY_TMN_CODE, CIVICPAY_VNPAY_HASH_SECRET, CIVICPAY_MOMO_*, CIVICPAY_ZALOPAY_*, CIVICPAY_VIETQR_*", "`gatewaysim`",
		"The simulator reads the service's gateway credentials, so that one environment configures both sides (`gatewaysim -print-env` prints them)."},
	{"GATEWAYSIM_*", "`gatewaysim`",
		"Each of the simulator's flags, read from its variable when not given (`-addr` from `GATEWAYSIM_ADDR`...: `gatewaysim -h` and its package doc list them), and the fee it charges a gateway: `GATEWAYSIM_<GATEWAY>_FEE_PERCENT` of the gross plus `GATEWAYSIM_<GATEWAY>_FEE_FIXED` (`VNPAY`, `MOMO`, `ZALOPAY`); `CIVICPAY_PUBLIC_URL` is where it calls back by default."},
	{"BENCH_RECON_LINES", "`cmd/benchrecon`", "Lines of the settlement file reconciled (default 1000000, at least 1000)."},
	{"BENCH_RECON_LOG", "`cmd/benchrecon`", "`info` shows the service's log."},
	{"BENCH_RECON_CPUPROFILE", "`cmd/benchrecon`", "A file to write a CPU profile of the reconciliation to."},
	{"BENCH_RECON_KEEP", "`cmd/benchrecon`", "Set: the scratch database is kept."},
	{"BENCH_RECON_QUEUE", "`cmd/benchrecon`", "`0`: skip the exception queue's part (the reconciliation alone)."},
	{"BENCH_CONSOLE_KEEP", "`cmd/benchconsole`", "Set: the scratch database of 1,000,000 orders is kept (to look at its plans)."},
	{"BENCH_SCALE_KEEP", "`cmd/benchscale`", "Set: the year's scratch databases are kept (to look at their plans), and the scale cluster left running (`internal/testkit/devdb/pg.sh scale-stop` stops it); the next run on that cluster drops them first."},
	{"BENCH_SCALE_SERVER", "`cmd/benchscale`", "`own` (default): the year is seeded in a private cluster that `internal/testkit/devdb/pg.sh scale` starts in `CIVICPAY_PGSCALE` (default `.pgdata-scale`, git-ignored), with `wal_level=minimal` while seeding, then restarted with initdb's settings (autovacuum off, as on the machine's server) for the measurements, and stopped at the end; `configured`: everything on `DATABASE_URL`'s server."},
	{"BENCH_SCALE_VERIFY", "`cmd/benchscale`", "Set: `ledger verify` over the seeded year, which fails the run on a finding (about 3 minutes at 10,000,000 orders; `make test`'s smoke run verifies a small year)."},
	{"BENCH_SCALE_ORDERS, BENCH_SCALE_RECON_LINES", "`cmd/benchscale`", "The year's paid orders (default 10,000,000) and the reconciled day's settlement lines (default 1,000,000)."},
	{"CIVICPAY_SCREENSHOTS", "browser tests (`make test`)", "A folder the headless-Chromium tests leave their screenshots in (default: each test's temporary folder)."},
}

// envVar is one row of the table.
type envVar struct{ name, def, meaning string }

// envVars lists Config's variables in field order, with their defaults and
// their doc comments (read from this package's source).
func envVars(t *testing.T) []envVar {
	t.Helper()
	docs := fieldDocs(t)
	var dev Config
	dev.fillDevelopment(demo.SimURL, func(string) bool { return false })
	var out []envVar
	var walk func(typ reflect.Type, val reflect.Value)
	walk = func(typ reflect.Type, val reflect.Value) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, ok := f.Tag.Lookup("env")
			if !ok && f.Type.Kind() == reflect.Struct {
				walk(f.Type, val.Field(i))
				continue
			}
			if !ok || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			doc := docs[typ.Name()+"."+f.Name]
			if doc == "" {
				t.Errorf("%s.%s (%s) has no doc comment: it is the variable's line in the README", typ.Name(), f.Name, name)
			}
			v := envVar{name: name, meaning: doc}
			switch d, hasDefault := f.Tag.Lookup("envDefault"); {
			case f.Tag.Get("docDefault") != "":
				v.def = f.Tag.Get("docDefault")
			case hasDefault:
				v.def = "`" + d + "`"
			case slices.Contains(strings.Split(opts, ","), "required"):
				v.def = "(required)"
			case val.Field(i).Kind() == reflect.String && val.Field(i).String() != "":
				if s := val.Field(i).String(); demo.IsPublished(s) {
					v.def = "(dev: demo)"
				} else {
					v.def = "(dev: `" + s + "`)"
				}
			}
			out = append(out, v)
		}
	}
	walk(reflect.TypeOf(dev), reflect.ValueOf(dev))
	return out
}

// fieldDocs maps "Type.Field" to the field's doc comment, on one line.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(file, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, f := range st.Fields.List {
			if f.Doc == nil {
				continue
			}
			for _, name := range f.Names {
				out[ts.Name.Name+"."+name.Name] = strings.Join(strings.Fields(f.Doc.Text()), " ")
			}
		}
		return false
	})
	return out
}

// configTable is the README's generated section, markers included.
func configTable(t *testing.T) string {
	t.Helper()
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var b strings.Builder
	fmt.Fprintln(&b, tableBegin)
	fmt.Fprintln(&b, "| variable | default | meaning |")
	fmt.Fprintln(&b, "|---|---|---|")
	for _, v := range envVars(t) {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.name, cell(v.def), cell(v.meaning))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Read by other programs, or by `civicpay` outside its configuration:")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| variable | read by | meaning |")
	fmt.Fprintln(&b, "|---|---|---|")
	for _, v := range outside {
		names := strings.Split(v.name, ", ")
		for i := range names {
			names[i] = "`" + names[i] + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", strings.Join(names, ", "), v.program, cell(v.meaning))
	}
	fmt.Fprint(&b, tableEnd)
	return b.String()
}

// TestREADMEConfigTable: README.md's configuration table is the one the
// struct tags and doc comments of Config make. With -update (or `go
// generate ./internal/app/config`) it rewrites the table instead.
func TestREADMEConfigTable(t *testing.T) {
	want := configTable(t)
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, tableBegin), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", tableBegin, tableEnd)
	}
	got := readme[i : j+len(tableEnd)]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(readme[:i]+want+readme[j+len(tableEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("README.md's configuration table rewritten")
		return
	}
	t.Errorf("README.md's configuration table differs from the struct tags; run\n\tgo test ./internal/app/config -run TestREADMEConfigTable -update\nor paste:\n\n%s", want)
}

// TestEveryGetenvIsListed: every variable a program of this repository
// reads by name (os.Getenv, os.LookupEnv, gatewaysim's getenv), tests
// aside, is Config's or listed in outside, so it has its line in the README.
func TestEveryGetenvIsListed(t *testing.T) {
	known := map[string]bool{}
	for _, v := range envVars(t) {
		known[v.name] = true
	}
	for _, v := range outside {
		for _, n := range strings.Split(v.name, ", ") {
			known[n] = true
		}
	}
	read := regexp.MustCompile(`(?:Getenv|LookupEnv|getenv)\("([A-Za-z0-9_]+)"\)`)
	found := 0
	err := filepath.WalkDir("../../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".pgdata")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range read.FindAllStringSubmatch(string(src), -1) {
			found++
			if !known[m[1]] && !coveredByPattern(m[1]) {
				t.Errorf("%s reads %s, which the README's tables do not list (add it to Config, or to outside)", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 5 {
		t.Fatalf("found %d reads of the environment: the scan is broken", found)
	}
}

// coveredByPattern: a name matched by a listed pattern (CIVICPAY_MOMO_*,
// GATEWAYSIM_<GATEWAY>_...).
func coveredByPattern(name string) bool {
	for _, v := range outside {
		for _, p := range strings.Split(v.name, ", ") {
			re := "^" + regexp.MustCompile(`\\\*|<[A-Z]+>`).ReplaceAllString(regexp.QuoteMeta(p), "[A-Z0-9_]+") + "$"
			if regexp.MustCompile(re).MatchString(name) {
				return true
			}
		}
	}
	return false
}
