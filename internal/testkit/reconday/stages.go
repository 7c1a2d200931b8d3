package reconday

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/civicpay/civicpay/internal/testkit/benchutil"
)

// stageMessages are the service's log lines that say where a load's and a
// run's time went (their *_ms attributes).
var stageMessages = map[string]string{
	"statement load finished":       "load",
	"reconciliation run matched":    "matching",
	"reconciliation run stage done": "stage",
}

// StageLog is a handler that passes records to next as it would, and in
// addition prints the stage timings of the lines in stageMessages as
// progress, whatever next's level: the bench's stage table.
func StageLog(next slog.Handler) slog.Handler { return stageHandler{next} }

type stageHandler struct{ next slog.Handler }

func (h stageHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h stageHandler) Handle(ctx context.Context, r slog.Record) error {
	if name, ok := stageMessages[r.Message]; ok {
		var parts []string
		r.Attrs(func(a slog.Attr) bool {
			if strings.HasSuffix(a.Key, "_ms") || a.Key == "stage" {
				parts = append(parts, fmt.Sprintf("%s=%v", a.Key, a.Value))
			}
			return true
		})
		benchutil.Progress("%s: %s", name, strings.Join(parts, " "))
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h stageHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return stageHandler{h.next.WithAttrs(as)}
}
func (h stageHandler) WithGroup(g string) slog.Handler { return stageHandler{h.next.WithGroup(g)} }
