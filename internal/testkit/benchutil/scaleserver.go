package benchutil

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ScaleServer starts, or restarts with settings (NAME=VALUE, on top of
// initdb's, autovacuum off), the private PostgreSQL cluster that
// cmd/benchscale seeds its year in (`pg.sh scale`: initdb'd on first use in
// $CIVICPAY_PGSCALE, default <repo>/.pgdata-scale), and returns its admin
// URL. A restart ends every connection to it: reopen the pools after it.
func ScaleServer(ctx context.Context, settings ...string) (string, error) {
	out, err := pgsh(ctx, append([]string{"scale"}, settings...)...)
	if err != nil {
		return "", err
	}
	if f := strings.Fields(out); len(f) == 1 && strings.HasPrefix(f[0], "postgres://") {
		return f[0], nil
	}
	return "", fmt.Errorf("pg.sh scale printed %q", out)
}

// StopScaleServer stops the cluster ScaleServer started (`pg.sh scale-stop`).
func StopScaleServer(ctx context.Context) error {
	_, err := pgsh(ctx, "scale-stop")
	return err
}

// pgsh runs internal/testkit/devdb/pg.sh with args, its progress lines on
// this process's stderr, and returns what it printed on stdout.
func pgsh(ctx context.Context, args ...string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "devdb", "pg.sh")
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	for _, l := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
		if l != "" {
			Progress("%s", l)
		}
	}
	if err != nil {
		return "", fmt.Errorf("pg.sh %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}
