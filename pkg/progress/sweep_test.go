package progress

import (
	"testing"
	"time"
)

// Sweep keeps the meters polled within StaleAfter and the writes within StatusInterval,
// drops the others, and passes over the map at most once a minute.
func TestSweep(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var ms Meters
	var g Gate
	for i, key := range []string{"gone", "live"} {
		ms.Observe(key, t0.Add(time.Duration(i)*time.Minute), 1, 10)
		g.Wrote(key, t0.Add(time.Duration(i)*time.Minute))
	}
	if n := ms.Sweep(t0.Add(StaleAfter - time.Second)); n != 2 {
		t.Fatalf("%d meters before any is stale, want 2", n)
	}
	if n := ms.Sweep(t0.Add(StaleAfter + time.Second)); n != 2 {
		t.Fatalf("%d meters: a second pass within a minute dropped some", n)
	}
	if n := ms.Sweep(t0.Add(StaleAfter + time.Minute)); n != 1 || ms.Len() != 1 {
		t.Fatalf("%d meters after \"gone\" went stale, want 1", n)
	}
	if r := ms.Observe("live", t0.Add(StaleAfter+time.Minute), 5, 10); r.Rate == 0 {
		t.Fatalf("the live meter lost its samples: %+v", r)
	}
	if n := g.Sweep(t0.Add(time.Minute + StatusInterval - time.Second)); n != 1 || g.Len() != 1 {
		t.Fatalf("%d writes kept, want the recent one", n)
	}
	if !g.Due("gone", t0.Add(2*time.Minute), nil) || g.Due("live", t0.Add(time.Minute+time.Second), nil) {
		t.Fatal("a sweep changed what Due answers")
	}
}
