package benchutil

import (
	"context"
	"fmt"
	"strings"

	"github.com/civicpay/civicpay/internal/testkit/devdb"
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

// pgsh runs devdb's pg.sh with its progress lines on this process's stderr.
func pgsh(ctx context.Context, args ...string) (string, error) {
	out, errOut, err := devdb.PgSh(ctx, args...)
	if err == nil {
		for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
			if l != "" {
				Progress("%s", l)
			}
		}
	}
	return out, err
}
