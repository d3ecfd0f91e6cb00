package agent

import (
	"context"

	"k8s.io/utils/clock"

	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
)

// Bytes returns the bytes done (moved or already in place) and the total so far.
func (t *Tracker) Bytes() (done, total int64) {
	return t.bytesTransferred.Load() + t.bytesSkipped.Load(), t.bytesTotal.Load()
}

// LogProgress logs one progress line (bytes, %, rate, ETA) every progress.DefaultInterval
// on clk (the real clock when nil) until the returned stop is called.
func (t *Tracker) LogProgress(ctx context.Context, clk clock.WithTicker, msg string) (stop func()) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		progress.Log(ctx, clk, progress.DefaultInterval, msg, t.Bytes)
	}()
	return func() { cancel(); <-done }
}
