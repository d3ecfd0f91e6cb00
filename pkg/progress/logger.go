package progress

import (
	"context"
	"time"

	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// DefaultInterval is how often Log writes a progress line.
const DefaultInterval = 5 * time.Second

// Log writes one progress line ("Progress", with done, total, percent, rate and eta) every
// interval on clk until ctx ends, from the counts current returns. It blocks.
func Log(ctx context.Context, clk clock.WithTicker, interval time.Duration, msg string, current func() (done, total int64)) {
	logger := klog.FromContext(ctx)
	var m Meter
	done, _ := current()
	m.Observe(clk.Now(), done)
	t := clk.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			done, total := current()
			m.Observe(now, done)
			r := m.Report(total)
			logger.Info(msg, "done", Bytes(r.Done), "total", Bytes(r.Total), "percent", int(r.Percent()),
				"rate", Bytes(int64(r.Rate))+"/s", "eta", r.ETAString(), "bytes", r.Done, "bytesTotal", r.Total)
		}
	}
}
