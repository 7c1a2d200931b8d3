package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/groupcommit/gctest"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// appNew builds (not runs) another app on e's database, stopping its
// writers when t ends.
func appNew(t *testing.T, cfg config.Config, e *apptest.Env) (*app.App, error) {
	t.Helper()
	a, err := app.New(context.Background(), cfg, e.Pool, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err == nil {
		t.Cleanup(a.CloseWriters)
	}
	return a, err
}

func TestMain(m *testing.M) { os.Exit(gctest.Main(m)) } // every app the tests build stops its writers
