package schedule

import (
	"fmt"
	"sort"
	"time"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// Run is one of a schedule's backups, as retention sees it.
type Run struct {
	// Name is the CassandraBackup's name.
	Name string
	// Time is the run's slot, the time it was due.
	Time time.Time
	// State is the backup's state; empty, PENDING or RUNNING is a run not finished.
	State v1alpha1.BackupState
}

// finished reports whether the run reached COMPLETED, FAILED or CANCELLED.
func (r Run) finished() bool {
	switch r.State {
	case v1alpha1.BackupCompleted, v1alpha1.BackupFailed, v1alpha1.BackupCancelled:
		return true
	}
	return false
}

// Policy is a retention policy with its settings resolved.
type Policy struct {
	// KeepLast, KeepDaily, KeepWeekly, KeepMonthly and KeepFailed are as in v1alpha1.Retention.
	KeepLast, KeepDaily, KeepWeekly, KeepMonthly, KeepFailed int
	// MaxAge is the age past which a backup is deleted; 0 is none.
	MaxAge time.Duration
	// Location is the time zone days, weeks and months are counted in; UTC when nil.
	Location *time.Location
}

// PolicyOf resolves a schedule's retention; ok is false when nothing is ever deleted.
func PolicyOf(r *v1alpha1.Retention, loc *time.Location) (p Policy, ok bool) {
	if r == nil {
		return Policy{}, false
	}
	p = Policy{
		KeepLast: int(r.KeepLast), KeepDaily: int(r.KeepDaily), KeepWeekly: int(r.KeepWeekly),
		KeepMonthly: int(r.KeepMonthly), KeepFailed: int(r.KeepFailed), Location: loc,
	}
	if r.MaxAge != nil {
		p.MaxAge = r.MaxAge.Duration
	}
	return p, true
}

// keepsAll reports whether no keep rule is set, so every COMPLETED backup is kept (up to MaxAge).
func (p Policy) keepsAll() bool {
	return p.KeepLast == 0 && p.KeepDaily == 0 && p.KeepWeekly == 0 && p.KeepMonthly == 0
}

// Expired returns the runs p deletes at now, oldest first. Runs not finished are never
// expired; the newest COMPLETED run never is either.
func Expired(runs []Run, p Policy, now time.Time) []Run {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	sorted := append([]Run(nil), runs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.After(sorted[j].Time) })

	keep := map[string]bool{}
	var completed, failed []Run
	for _, r := range sorted {
		switch {
		case !r.finished():
			keep[r.Name] = true
		case r.State == v1alpha1.BackupCompleted:
			completed = append(completed, r)
		default:
			failed = append(failed, r)
		}
	}
	young := func(r Run) bool { return p.MaxAge <= 0 || now.Sub(r.Time) <= p.MaxAge }
	byRule := map[string]bool{}
	if p.keepsAll() {
		for _, r := range completed {
			byRule[r.Name] = true
		}
	}
	for i, r := range completed {
		if i < p.KeepLast {
			byRule[r.Name] = true
		}
	}
	for _, rule := range []struct {
		n      int
		bucket func(time.Time) string
	}{
		{p.KeepDaily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{p.KeepWeekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
		{p.KeepMonthly, func(t time.Time) string { return t.Format("2006-01") }},
	} {
		last, used := "", 0
		for _, r := range completed {
			if used >= rule.n {
				break
			}
			if b := rule.bucket(r.Time.In(loc)); b != last {
				byRule[r.Name], last = true, b
				used++
			}
		}
	}
	for i, r := range completed {
		if i == 0 || (byRule[r.Name] && young(r)) {
			keep[r.Name] = true
		}
	}
	for i, r := range failed {
		if i < p.KeepFailed && young(r) {
			keep[r.Name] = true
		}
	}
	var out []Run
	for i := len(sorted) - 1; i >= 0; i-- {
		if !keep[sorted[i].Name] {
			out = append(out, sorted[i])
		}
	}
	return out
}
