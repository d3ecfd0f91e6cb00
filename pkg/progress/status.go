package progress

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// StatusInterval is the shortest time between two status writes that change only the
// progress of a backup or a restore (bytes, rate, ETA).
const StatusInterval = 5 * time.Second

// SizeString is the bytes done over the total, "2.1 MiB / 3.0 MiB"; "" without a total.
func (r Report) SizeString() string {
	if r.Total <= 0 && r.Done <= 0 {
		return ""
	}
	return Bytes(r.Done) + " / " + Bytes(r.Total)
}

// RateString is the rate, "1.5 MiB/s"; "" while nothing moves.
func (r Report) RateString() string {
	if int64(r.Rate) <= 0 {
		return ""
	}
	return Bytes(int64(r.Rate)) + "/s"
}

// Sum is the progress of transfers running side by side: bytes and rates add up and the
// ETA is the longest, known only when every unfinished transfer has one.
func Sum(reports ...Report) Report {
	var s Report
	s.HasETA = true
	unfinished := 0
	for _, r := range reports {
		s.Done += r.Done
		s.Total += r.Total
		s.Rate += r.Rate
		if r.Done >= r.Total && r.Total > 0 {
			continue
		}
		unfinished++
		s.HasETA = s.HasETA && r.HasETA
		s.ETA = max(s.ETA, r.ETA)
	}
	if unfinished == 0 {
		s.HasETA, s.ETA = false, 0
	}
	return s
}

// Summary is the preformatted size, rate and ETA of a whole backup or restore.
func Summary(r Report) v1alpha1.ProgressSummary {
	return v1alpha1.ProgressSummary{Size: r.SizeString(), Rate: r.RateString(), ETA: r.ETAString()}
}

// Rate is a node's rate and ETA in status, measured at at.
func Rate(r Report, at time.Time) v1alpha1.TransferRate {
	t := metav1.NewTime(at.Truncate(time.Second))
	return v1alpha1.TransferRate{BytesPerSecond: int64(r.Rate), ETA: r.ETAString(), ProgressTime: &t}
}

// FromStatus is the Report a node's status shows: its bytes and its rate and ETA as
// written (the ETA's text parsed back).
func FromStatus(done, total int64, tr v1alpha1.TransferRate) Report {
	r := Report{Done: done, Total: total, Rate: float64(tr.BytesPerSecond)}
	if d, err := time.ParseDuration(tr.ETA); err == nil && tr.ETA != "" {
		r.ETA, r.HasETA = d, true
	}
	return r
}

// Meters are Meters by key (a backup's or a restore's node), safe for concurrent use:
// a controller keeps one set for the transfers it follows. They live in memory only; a
// restarted operator starts them empty and has a rate again after two samples.
type Meters struct {
	mu    sync.Mutex
	m     map[string]*keyed
	swept time.Time // the last Sweep's pass (sweep.go)
}

type keyed struct {
	meter Meter
	seen  time.Time
}

// Observe records done bytes of total at at for key, and returns the key's report.
func (ms *Meters) Observe(key string, at time.Time, done, total int64) Report {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.m == nil {
		ms.m = map[string]*keyed{}
	}
	k := ms.m[key]
	if k == nil {
		k = &keyed{}
		ms.m[key] = k
	}
	k.meter.Observe(at, done)
	k.seen = at
	return k.meter.Report(total)
}

// Forget drops the meter of key (its transfer ended).
func (ms *Meters) Forget(key string) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	delete(ms.m, key)
}

// Prune drops the meters not observed since before (transfers whose object is gone),
// and returns how many remain.
func (ms *Meters) Prune(before time.Time) int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.prune(before)
}

func (ms *Meters) prune(before time.Time) int {
	for key, k := range ms.m {
		if k.seen.Before(before) {
			delete(ms.m, key)
		}
	}
	return len(ms.m)
}

// Gate spaces the status writes that change only progress: per object (its key), at most
// one every StatusInterval. It remembers the last write in memory and also honours the
// ProgressTime already in status, so a restarted operator does not write at once.
type Gate struct {
	mu    sync.Mutex
	m     map[string]time.Time
	swept time.Time // the last Sweep's pass (sweep.go)
}

// Due reports whether a progress-only write of key may go out at now; last is the
// newest ProgressTime in the object's status (nil: none).
func (g *Gate) Due(key string, now time.Time, last *metav1.Time) bool {
	if last != nil && now.Sub(last.Time) < StatusInterval {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	w, ok := g.m[key]
	return !ok || now.Sub(w) >= StatusInterval
}

// Wrote records a write of key's progress at now.
func (g *Gate) Wrote(key string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]time.Time{}
	}
	g.m[key] = now
}

// Forget drops key (its object finished or is gone).
func (g *Gate) Forget(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, key)
}

// Newest returns the latest of the times, nil when there is none.
func Newest(times ...*metav1.Time) *metav1.Time {
	var out *metav1.Time
	for _, t := range times {
		if t != nil && (out == nil || t.After(out.Time)) {
			out = t
		}
	}
	return out
}
