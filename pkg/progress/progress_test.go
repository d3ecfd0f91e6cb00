package progress

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	testingclock "k8s.io/utils/clock/testing"
)

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {2202009, "2.1 MiB"}, {5 << 30, "5.0 GiB"}, {3 << 40, "3.0 TiB"}} {
		if got := Bytes(c.n); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestMeterRateOverWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := Meter{Window: 10 * time.Second}
	if r := m.Report(100); r.Rate != 0 || r.HasETA {
		t.Fatalf("empty meter: %+v", r)
	}
	// 1 MiB/s for 20 s, then 4 MiB/s: after the window has only the fast part, the rate
	// is the recent one, not the average since the start.
	for s := 0; s <= 20; s += 5 {
		m.Observe(t0.Add(time.Duration(s)*time.Second), int64(s)<<20)
	}
	if r := m.Rate(); r != 1<<20 {
		t.Fatalf("rate %v, want 1 MiB/s", r)
	}
	for s := 25; s <= 40; s += 5 {
		m.Observe(t0.Add(time.Duration(s)*time.Second), (20+int64(s-20)*4)<<20)
	}
	r := m.Report(200 << 20)
	if r.Rate != 4<<20 || r.Done != 100<<20 {
		t.Fatalf("report %+v, want 4 MiB/s and 100 MiB done", r)
	}
	if !r.HasETA || r.ETA != 25*time.Second || r.ETAString() != "25s" {
		t.Errorf("ETA %v (%v), want 25s", r.ETA, r.HasETA)
	}
	if got, want := r.String(), "100.0 MiB of 200.0 MiB (50%), 4.0 MiB/s, ETA 25s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestStalledHasNoETA(t *testing.T) {
	t0 := time.Unix(0, 0)
	var m Meter
	m.Observe(t0, 10)
	m.Observe(t0.Add(5*time.Second), 10)
	if r := m.Report(100); r.HasETA || r.ETAString() != "" || strings.Contains(r.String(), "ETA") {
		t.Errorf("stalled: %+v %q", r, r.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Log writes one line per tick of the injected clock, none between ticks.
func TestLogOneLinePerInterval(t *testing.T) {
	var buf syncBuffer
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(&buf)))))
	clk := testingclock.NewFakeClock(time.Unix(0, 0))
	var mu sync.Mutex
	done := int64(0)
	stopped := make(chan struct{})
	go func() {
		Log(ctx, clk, DefaultInterval, "Restore progress", func() (int64, int64) { mu.Lock(); defer mu.Unlock(); return done, 10 << 20 })
		close(stopped)
	}()
	for i := 1; i <= 3; i++ {
		for !clk.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		done = int64(i) << 20
		mu.Unlock()
		clk.Step(DefaultInterval)
		want := i
		for strings.Count(buf.String(), "Restore progress") < want {
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	<-stopped
	out := buf.String()
	if n := strings.Count(out, "Restore progress"); n != 3 {
		t.Fatalf("%d lines, want 3:\n%s", n, out)
	}
	last := out[strings.LastIndex(out, "Restore progress"):]
	for _, want := range []string{`done="3.0 MiB"`, `total="10.0 MiB"`, `percent=30`, `eta="35s"`} {
		if !strings.Contains(last, want) {
			t.Errorf("last line lacks %s: %s", want, last)
		}
	}
}
