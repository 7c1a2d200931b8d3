package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/apptest"
	"github.com/civicpay/civicpay/internal/config"
)

// appNew builds (not runs) another app on e's database.
func appNew(t *testing.T, cfg config.Config, e *apptest.Env) (*app.App, error) {
	t.Helper()
	return app.New(context.Background(), cfg, e.Pool, slog.New(slog.NewJSONHandler(io.Discard, nil)))
}
