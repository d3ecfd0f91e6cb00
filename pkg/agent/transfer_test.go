package agent

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/time/rate"
)

// A file's meter counts at most the file's size, however often a retried part is sent,
// and asks the limiter for no more than its burst.
func TestFileMeter(t *testing.T) {
	var tr Tracker
	tr.AddTotal(1, 10_000)
	m := newFileMeter(nil, &tr, 10_000)
	if m.Chunk() != 0 {
		t.Fatalf("Chunk without a cap = %d; want 0", m.Chunk())
	}
	for range 3 { // a part of 4,000 bytes sent three times, then the rest
		if err := m.Moved(t.Context(), 4_000); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Moved(t.Context(), 6_000); err != nil {
		t.Fatal(err)
	}
	if s := tr.Snapshot(); s.BytesTransferred != 10_000 || s.Progress() != 1 {
		t.Fatalf("after 18,000 bytes reported for a 10,000-byte file: transferred %d, progress %v; want 10,000 and 1", s.BytesTransferred, s.Progress())
	}

	lim := rate.NewLimiter(rate.Limit(1000), 1000)
	capped := newFileMeter(lim, &tr, 5_000)
	if capped.Chunk() != 1000 {
		t.Fatalf("Chunk with a 1,000 B/s cap = %d; want its burst, 1000", capped.Chunk())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := capped.Moved(ctx, 1000); !errors.Is(err, context.Canceled) {
		t.Fatalf("Moved after cancel = %v; want context.Canceled", err)
	}
}
