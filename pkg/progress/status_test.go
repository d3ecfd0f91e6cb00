package progress

import (
	"testing"
	"time"
)

// The printer columns' strings: human sizes, a rate only while something moves, an ETA
// only when known and not done.
func TestPrinterStrings(t *testing.T) {
	for _, c := range []struct {
		name            string
		r               Report
		size, rate, eta string
	}{
		{"nothing yet", Report{}, "", "", ""},
		{"running", Report{Done: 2202009, Total: 3 << 20, Rate: 1.5 * (1 << 20), ETA: 200 * time.Second, HasETA: true}, "2.1 MiB / 3.0 MiB", "1.5 MiB/s", "3m20s"},
		{"stalled", Report{Done: 512, Total: 4096}, "512 B / 4.0 KiB", "", ""},
		{"sub-byte rate", Report{Done: 1, Total: 2, Rate: 0.4}, "1 B / 2 B", "", ""},
		{"done", Report{Done: 5 << 30, Total: 5 << 30}, "5.0 GiB / 5.0 GiB", "", ""},
	} {
		if got := c.r.SizeString(); got != c.size {
			t.Errorf("%s: size %q, want %q", c.name, got, c.size)
		}
		if got := c.r.RateString(); got != c.rate {
			t.Errorf("%s: rate %q, want %q", c.name, got, c.rate)
		}
		s := Summary(c.r)
		if s.Size != c.size || s.Rate != c.rate || s.ETA != c.eta {
			t.Errorf("%s: summary %+v, want %q %q %q", c.name, s, c.size, c.rate, c.eta)
		}
	}
}

func TestSum(t *testing.T) {
	fast := Report{Done: 90, Total: 100, Rate: 10, ETA: time.Second, HasETA: true}
	slow := Report{Done: 10, Total: 100, Rate: 1, ETA: 90 * time.Second, HasETA: true}
	done := Report{Done: 100, Total: 100}
	s := Sum(fast, slow, done)
	if s.Done != 200 || s.Total != 300 || s.Rate != 11 || !s.HasETA || s.ETA != 90*time.Second {
		t.Fatalf("sum %+v: want 200/300 at 11 B/s, ETA of the slowest 1m30s", s)
	}
	if s := Sum(fast, Report{Done: 0, Total: 100}); s.HasETA {
		t.Fatalf("a node without a rate yet: the whole ETA is unknown, got %+v", s)
	}
	if s := Sum(done, done); s.HasETA || s.ETAString() != "" {
		t.Fatalf("all done: no ETA, got %+v", s)
	}
}

func TestStatusRoundTrip(t *testing.T) {
	at := time.Unix(1000, 700_000_000)
	r := Report{Done: 10, Total: 100, Rate: 3.9, ETA: 23 * time.Second, HasETA: true}
	tr := Rate(r, at)
	if tr.BytesPerSecond != 3 || tr.ETA != "23s" || !tr.ProgressTime.Time.Equal(time.Unix(1000, 0)) {
		t.Fatalf("status %+v", tr)
	}
	back := FromStatus(10, 100, tr)
	if back.Rate != 3 || !back.HasETA || back.ETA != 23*time.Second {
		t.Fatalf("parsed back %+v", back)
	}
}

func TestMetersByKey(t *testing.T) {
	var ms Meters
	t0 := time.Unix(1000, 0)
	ms.Observe("a", t0, 0, 100)
	ms.Observe("b", t0, 0, 100)
	if r := ms.Observe("a", t0.Add(5*time.Second), 50, 100); r.Rate != 10 || r.ETAString() != "5s" {
		t.Fatalf("a: %+v", r)
	}
	if r := ms.Observe("b", t0.Add(5*time.Second), 0, 100); r.Rate != 0 || r.HasETA {
		t.Fatalf("b did not move: %+v", r)
	}
	if n := ms.Prune(t0.Add(time.Second)); n != 2 {
		t.Fatalf("both seen at 5s: %d left", n)
	}
	ms.Forget("a")
	if n := ms.Prune(t0.Add(6 * time.Second)); n != 0 {
		t.Fatalf("%d left after pruning", n)
	}
	if r := ms.Observe("a", t0.Add(10*time.Second), 60, 100); r.Rate != 0 {
		t.Fatalf("a forgotten starts afresh: %+v", r)
	}
}
