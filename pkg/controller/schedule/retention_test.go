package schedule_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
)

// model decides, backup by backup, whether retention keeps it: written from the rules as
// the README states them, without the iteration Expired uses.
func model(runs []schedule.Run, p schedule.Policy, now time.Time) map[string]bool {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	var completed, failed []schedule.Run
	for _, r := range runs {
		switch r.State {
		case v1alpha1.BackupCompleted:
			completed = append(completed, r)
		case v1alpha1.BackupFailed, v1alpha1.BackupCancelled:
			failed = append(failed, r)
		}
	}
	// rank counts the runs of list strictly newer than r.
	rank := func(list []schedule.Run, r schedule.Run) int {
		n := 0
		for _, o := range list {
			if o.Time.After(r.Time) {
				n++
			}
		}
		return n
	}
	// newestOf reports whether r is the newest completed run of its period, and the
	// number of distinct periods of completed runs newer than r's.
	period := func(r schedule.Run, key func(time.Time) string) (bool, int) {
		mine := key(r.Time.In(loc))
		newer := map[string]bool{}
		newest := true
		for _, o := range completed {
			if !o.Time.After(r.Time) {
				continue
			}
			k := key(o.Time.In(loc))
			if k == mine {
				newest = false
			} else {
				newer[k] = true
			}
		}
		return newest, len(newer)
	}
	day := func(t time.Time) string { return fmt.Sprint(t.Year(), t.YearDay()) }
	week := func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprint(y, "w", w) }
	month := func(t time.Time) string { return fmt.Sprint(t.Year(), "m", int(t.Month())) }
	within := func(n int, r schedule.Run, key func(time.Time) string) bool {
		newest, newer := period(r, key)
		return n > 0 && newest && newer < n
	}
	young := func(r schedule.Run) bool { return p.MaxAge == 0 || now.Sub(r.Time) <= p.MaxAge }
	noRule := p.KeepLast == 0 && p.KeepDaily == 0 && p.KeepWeekly == 0 && p.KeepMonthly == 0

	keep := map[string]bool{}
	for _, r := range runs {
		switch r.State {
		case v1alpha1.BackupCompleted:
			if rank(completed, r) == 0 {
				keep[r.Name] = true
				continue
			}
			ruled := noRule || rank(completed, r) < p.KeepLast ||
				within(p.KeepDaily, r, day) || within(p.KeepWeekly, r, week) || within(p.KeepMonthly, r, month)
			keep[r.Name] = ruled && young(r)
		case v1alpha1.BackupFailed, v1alpha1.BackupCancelled:
			keep[r.Name] = rank(failed, r) < p.KeepFailed && young(r)
		default:
			keep[r.Name] = true
		}
	}
	return keep
}

// outcome is the state a run ends in, from a seeded generator with failure streaks.
func outcomes(seed uint64, n int) []v1alpha1.BackupState {
	rng := rand.New(rand.NewPCG(seed, 16))
	out := make([]v1alpha1.BackupState, n)
	for i := 0; i < n; {
		switch x := rng.IntN(100); {
		case x < 2: // an outage: a streak of up to 5 days of failures
			for k := rng.IntN(120); k >= 0 && i < n; k-- {
				out[i] = v1alpha1.BackupFailed
				i++
			}
		case x < 10:
			out[i] = v1alpha1.BackupFailed
			i++
		case x < 13:
			out[i] = v1alpha1.BackupCancelled
			i++
		default:
			out[i] = v1alpha1.BackupCompleted
			i++
		}
	}
	return out
}

func names(runs []schedule.Run) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// TestRetentionYearOfHourlyRuns runs a schedule hourly for a year with mixed failures:
// after each run retention is applied, and the backups that remain are exactly the ones
// the model keeps; the newest COMPLETED backup is always among them.
func TestRetentionYearOfHourlyRuns(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	hours := 365 * 24
	for i, p := range []schedule.Policy{
		{KeepLast: 7, KeepWeekly: 4},
		{KeepLast: 24, KeepDaily: 7, KeepWeekly: 5, KeepMonthly: 12, KeepFailed: 3},
		{KeepDaily: 30, KeepFailed: 1, Location: berlin},
		{MaxAge: 72 * time.Hour},
		{KeepLast: 3, MaxAge: 24 * time.Hour, KeepFailed: 2},
		{KeepMonthly: 6, KeepWeekly: 2, MaxAge: 60 * 24 * time.Hour, Location: berlin},
		{KeepLast: 1},
	} {
		t.Run(fmt.Sprintf("policy%d", i), func(t *testing.T) {
			states := outcomes(uint64(i+1), hours)
			start := time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC)
			var have []schedule.Run
			deleted := 0
			for h := range hours {
				now := start.Add(time.Duration(h) * time.Hour)
				// The previous run finishes; this hour's run starts.
				if n := len(have); n > 0 && have[n-1].State == v1alpha1.BackupRunning {
					have[n-1].State = states[h-1]
				}
				have = append(have, schedule.Run{Name: fmt.Sprintf("r%05d", h), Time: now, State: v1alpha1.BackupRunning})

				want := model(have, p, now)
				expired := schedule.Expired(have, p, now)
				for _, r := range expired {
					if want[r.Name] {
						t.Fatalf("hour %d: %s (%s, %s) expired, the model keeps it", h, r.Name, r.State, r.Time)
					}
				}
				var left []schedule.Run
				for _, r := range have {
					if !slices.ContainsFunc(expired, func(e schedule.Run) bool { return e.Name == r.Name }) {
						left = append(left, r)
						if !want[r.Name] {
							t.Fatalf("hour %d: %s (%s, %s) kept, the model expires it", h, r.Name, r.State, r.Time)
						}
					}
				}
				if newest := newestCompleted(have); newest != "" && !slices.Contains(names(left), newest) {
					t.Fatalf("hour %d: the newest COMPLETED backup %s was expired", h, newest)
				}
				deleted += len(have) - len(left)
				have = left
			}
			t.Logf("%+v: %d runs, %d expired, %d remain", p, hours, deleted, len(have))
			if deleted == 0 {
				t.Fatal("the policy never expired anything: the run does not test it")
			}
		})
	}
}

func newestCompleted(runs []schedule.Run) string {
	best := schedule.Run{}
	for _, r := range runs {
		if r.State == v1alpha1.BackupCompleted && r.Time.After(best.Time) {
			best = r
		}
	}
	return best.Name
}

// TestRetentionNeverExpiresTheLastGoodBackup: a month of failures after one good backup,
// with the tightest settings, leaves that backup.
func TestRetentionNeverExpiresTheLastGoodBackup(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := []schedule.Run{{Name: "good", Time: start, State: v1alpha1.BackupCompleted}}
	for d := 1; d <= 30; d++ {
		runs = append(runs, schedule.Run{Name: fmt.Sprintf("bad%02d", d), Time: start.AddDate(0, 0, d), State: v1alpha1.BackupFailed})
	}
	runs = append(runs, schedule.Run{Name: "running", Time: start.AddDate(0, 0, 31), State: v1alpha1.BackupRunning})
	expired := names(schedule.Expired(runs, schedule.Policy{KeepLast: 1, MaxAge: time.Hour}, start.AddDate(0, 0, 31)))
	if slices.Contains(expired, "good") || slices.Contains(expired, "running") || len(expired) != 30 {
		t.Fatalf("expired %v; want the 30 failed runs only", expired)
	}
}

// Example_keepLast7Weekly4 is the README's worked example: a month of daily runs at
// 01:00 UTC, every one COMPLETED, with keepLast 7 and keepWeekly 4.
func Example_keepLast7Weekly4() {
	p := schedule.Policy{KeepLast: 7, KeepWeekly: 4}
	var have []schedule.Run
	for d := 1; d <= 31; d++ {
		now := time.Date(2026, 3, d, 1, 0, 0, 0, time.UTC)
		have = append(have, schedule.Run{Name: now.Format("Mon Jan 2"), Time: now, State: v1alpha1.BackupCompleted})
		expired := schedule.Expired(have, p, now)
		have = slices.DeleteFunc(have, func(r schedule.Run) bool {
			return slices.ContainsFunc(expired, func(e schedule.Run) bool { return e.Name == r.Name })
		})
	}
	for _, r := range have {
		fmt.Println(r.Name)
	}
	// Output:
	// Sun Mar 15
	// Sun Mar 22
	// Wed Mar 25
	// Thu Mar 26
	// Fri Mar 27
	// Sat Mar 28
	// Sun Mar 29
	// Mon Mar 30
	// Tue Mar 31
}
