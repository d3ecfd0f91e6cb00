// Package progress is the one progress model of backups and restores: bytes done of a
// total, the rate over a recent window and the time left at that rate, and their human
// forms ("2.1 MiB", "1.5 MiB/s", "3m20s"). The clock is the caller's: a Meter is fed
// (time, bytes done) samples, and Logger ticks on an injected clock.
package progress

import (
	"fmt"
	"time"
)

// DefaultWindow is the span of recent samples a rate is computed over.
const DefaultWindow = 30 * time.Second

// sample is the bytes done at a time.
type sample struct {
	at    time.Time
	bytes int64
}

// Meter computes a transfer's rate over a recent window from samples of its bytes done.
// The zero value uses DefaultWindow. It is not safe for concurrent use.
type Meter struct {
	// Window is the span of samples the rate is computed over; DefaultWindow when 0.
	Window  time.Duration
	samples []sample
}

// Observe records that done bytes were done at at. Samples older than the window (but the
// newest of those, the rate's start) are dropped.
func (m *Meter) Observe(at time.Time, done int64) {
	w := m.Window
	if w <= 0 {
		w = DefaultWindow
	}
	m.samples = append(m.samples, sample{at, done})
	i := 0
	for i+1 < len(m.samples) && at.Sub(m.samples[i+1].at) >= w {
		i++
	}
	m.samples = m.samples[i:]
}

// Rate returns bytes per second between the oldest and the newest sample in the window;
// 0 with fewer than two samples.
func (m *Meter) Rate() float64 {
	if len(m.samples) < 2 {
		return 0
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(last.bytes-first.bytes) / dt
}

// Report is a transfer's progress at one time.
type Report struct {
	// Done and Total are bytes.
	Done, Total int64
	// Rate is bytes per second over the recent window.
	Rate float64
	// ETA is the time left at Rate; meaningful when HasETA.
	ETA time.Duration
	// HasETA is false while the rate is unknown or zero, or the total is.
	HasETA bool
}

// Report returns the progress with the newest sample's bytes done out of total.
func (m *Meter) Report(total int64) Report {
	r := Report{Total: total, Rate: m.Rate()}
	if n := len(m.samples); n > 0 {
		r.Done = m.samples[n-1].bytes
	}
	if left := total - r.Done; r.Rate > 0 && total > 0 && left >= 0 {
		r.ETA, r.HasETA = time.Duration(float64(left)/r.Rate*float64(time.Second)).Round(time.Second), true
	}
	return r
}

// Percent is Done of Total in percent, 0 for no total, at most 100.
func (r Report) Percent() float64 {
	if r.Total <= 0 {
		return 0
	}
	return min(float64(r.Done)*100/float64(r.Total), 100)
}

// ETAString is the preformatted time left ("3m20s"), or "" when unknown.
func (r Report) ETAString() string {
	if !r.HasETA {
		return ""
	}
	return r.ETA.String()
}

// String is the one-line form: "2.1 MiB of 4.0 MiB (52%), 1.5 MiB/s, ETA 1s".
func (r Report) String() string {
	s := fmt.Sprintf("%s of %s (%.0f%%), %s/s", Bytes(r.Done), Bytes(r.Total), r.Percent(), Bytes(int64(r.Rate)))
	if r.HasETA {
		s += ", ETA " + r.ETAString()
	}
	return s
}

// Bytes formats n in binary units with one decimal: "512 B", "2.1 MiB", "1.0 TiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit || v <= -unit {
		v /= unit
		i++
		if i == 5 {
			break
		}
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}
