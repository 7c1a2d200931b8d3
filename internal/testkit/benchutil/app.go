package benchutil

import (
	"context"
	"io"
	"log/slog"
	"net"

	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// StartApp runs civicpay in this process on s's database, on a loopback
// port, as the benches measure it: development defaults, no abuse limits,
// no reconciliation cutoff, fresh data keys, errors only in its log. tune
// (if set) changes the configuration first. stop ends it and waits.
func StartApp(ctx context.Context, s *Scratch, tune func(*config.Config)) (a *app.App, cfg config.Config, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, cfg, nil, err
	}
	cfg = config.Defaults(s.URL)
	cfg.PublicURL, cfg.LogLevel, cfg.Recon.Cutoff = "http://"+ln.Addr().String(), "error", "off"
	cfg.Limits = cfg.Limits.Unlimited()
	cfg.DataKeys, cfg.LookupKey = "bench:"+secretbox.GenerateKey(), secretbox.GenerateKey()
	if tune != nil {
		tune(&cfg)
	}
	actx, cancel := context.WithCancel(ctx)
	a, err = app.New(actx, cfg, s.Pool, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		_ = ln.Close()
		return nil, cfg, nil, err
	}
	done := make(chan struct{})
	go func() { _ = a.Run(actx, ln, nil); close(done) }()
	return a, cfg, func() { cancel(); <-done }, nil
}
