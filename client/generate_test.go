package client_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGeneratedClientIsUpToDate regenerates the client from the OpenAPI
// document, as `go generate ./client/` does, into a temporary file and fails
// if it differs from the committed client.gen.go: the document changed and
// the client was not regenerated (or the client was edited by hand).
func TestGeneratedClientIsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds oapi-codegen")
	}
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^//go:generate (go run \S+) -config oapi-codegen.yaml (\S+)$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("generate.go: no //go:generate line of the expected form")
	}
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "client.gen.go")
	outLine := regexp.MustCompile(`(?m)^output: .*$`)
	if !outLine.Match(cfg) {
		t.Fatal("oapi-codegen.yaml: no output line")
	}
	tmpCfg := filepath.Join(t.TempDir(), "oapi-codegen.yaml")
	if err := os.WriteFile(tmpCfg, outLine.ReplaceAll(cfg, []byte("output: "+out)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(strings.Fields(string(m[1])), "-config", tmpCfg, string(m[2]))
	cmd := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("client/client.gen.go is not what the OpenAPI document generates: run `go generate ./client/` and commit the result (generated %d bytes, committed %d)", len(got), len(want))
	}
}
