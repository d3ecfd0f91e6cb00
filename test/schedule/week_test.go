package schedule_test

import (
	"context"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
)

// week drives one hourly schedule through a week of fake time and tracks the backups
// that must exist.
type week struct {
	*env
	name   string
	policy schedule.Policy
	have   []schedule.Run
	op     *op
}

// run waits for the run of slot to be created, then checks that exactly the expected
// backups exist, and finishes the run in state (RUNNING leaves it running).
func (w *week) run(slot time.Time, state v1alpha1.BackupState) {
	w.t.Helper()
	name := schedule.RunName(w.name, slot)
	if w.clock.Now().Before(slot) {
		w.clock.SetTime(slot)
	}
	w.until(slot.Add(59*time.Minute), "run "+name+" created", func() bool { return w.backups(w.name)[name] != nil })
	w.have = append(w.have, schedule.Run{Name: name, Time: slot, State: v1alpha1.BackupRunning})
	w.expect(slot.Add(59 * time.Minute))
	if state != v1alpha1.BackupRunning {
		w.finish(name, state)
		w.have[len(w.have)-1].State = state
	}
}

// expect waits until the backups that exist are those retention keeps of w.have.
func (w *week) expect(limit time.Time) {
	w.t.Helper()
	expired := schedule.Expired(w.have, w.policy, w.clock.Now())
	w.have = slices.DeleteFunc(w.have, func(r schedule.Run) bool {
		return slices.ContainsFunc(expired, func(e schedule.Run) bool { return e.Name == r.Name })
	})
	var want []string
	for _, r := range w.have {
		want = append(want, r.Name)
	}
	sort.Strings(want)
	var got []string
	w.until(limit, "the backups retention keeps", func() bool {
		got = slices.Sorted(maps.Keys(w.backups(w.name)))
		return slices.Equal(got, want)
	})
}

// TestWeekOfHourlyRuns runs an hourly schedule with retention over a week of fake time on
// the real API server: each hour exactly one run, named after its slot; failures and
// cancellations mixed in; a 4-hour operator outage ends in one catch-up run, not a
// burst; a run that outlasts two slots makes the next run wait (Forbid) and start once;
// at every step exactly the backups retention keeps exist, the newest COMPLETED among them.
func TestWeekOfHourlyRuns(t *testing.T) {
	e := newEnv(t)
	ret := &v1alpha1.Retention{KeepLast: 3, KeepDaily: 2, KeepFailed: 1}
	w := &week{env: e, name: "hourly", policy: schedule.Policy{KeepLast: 3, KeepDaily: 2, KeepFailed: 1}}
	w.op = e.start(schedule.Options{})
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns).Create(context.Background(),
		newSchedule(w.name, "0 * * * *", ret), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slot := e.clock.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	state := func(h int) v1alpha1.BackupState {
		switch {
		case h%7 == 3:
			return v1alpha1.BackupFailed
		case h%11 == 5:
			return v1alpha1.BackupCancelled
		}
		return v1alpha1.BackupCompleted
	}
	runs := 0
	for h := 0; h < 7*24; h++ {
		switch h {
		case 30: // The operator is down for four slots; one catch-up run at the newest.
			w.op.stop()
			e.clock.SetTime(slot.Add(3*time.Hour + 10*time.Minute))
			w.op = e.start(schedule.Options{})
			for k := range 3 {
				if b := e.backups(w.name)[schedule.RunName(w.name, slot.Add(time.Duration(k)*time.Hour))]; b != nil {
					t.Fatalf("a run was created for %s, missed during the outage", b.Name)
				}
			}
			h += 3
			slot = slot.Add(3 * time.Hour)
		case 60: // A run outlasts two slots: no run while it is RUNNING, then one.
			w.run(slot, v1alpha1.BackupRunning)
			runs++
			e.clock.SetTime(slot.Add(2*time.Hour + 5*time.Minute))
			w.until(slot.Add(3*time.Hour), "the schedule to report a waiting run", func() bool {
				c := meta.FindStatusCondition(w.get(w.name).Status.Conditions, "Ready")
				return c != nil && c.Reason == schedule.ReasonWaiting
			})
			if n := len(e.backups(w.name)); n != len(w.have) {
				t.Fatalf("%d backups while a run is active under Forbid; want %d", n, len(w.have))
			}
			w.finish(w.have[len(w.have)-1].Name, v1alpha1.BackupCompleted)
			w.have[len(w.have)-1].State = v1alpha1.BackupCompleted
			h += 2
			slot = slot.Add(2 * time.Hour)
		}
		w.run(slot, state(h))
		runs++
		slot = slot.Add(time.Hour)
	}
	w.clock.SetTime(slot.Add(-50 * time.Minute))
	w.expect(slot.Add(-time.Minute))
	// The controller deletes the expired backups, then patches the status: wait for it,
	// and for the newest success (a status write may lag the metric it also sets).
	var newest time.Time
	for _, r := range w.have {
		if r.State == v1alpha1.BackupCompleted && r.Time.After(newest) {
			newest = r.Time
		}
	}
	var s *v1alpha1.CassandraBackupSchedule
	w.until(slot.Add(-time.Minute), "the status that records the last expiries and the newest success", func() bool {
		s = w.get(w.name)
		return s.Status.Expired == int64(runs-len(w.have)) && s.Status.LastSuccessfulTime != nil && s.Status.LastSuccessfulTime.Time.Equal(newest)
	})
	t.Logf("%d runs over a week of fake time; %d backups remain: %v; status: last schedule %s, last success %s, next %s, completed %d, failed %d, expired %d",
		runs, len(w.have), w.have, s.Status.LastScheduleTime, s.Status.LastSuccessfulTime, s.Status.NextScheduleTime, s.Status.Completed, s.Status.Failed, s.Status.Expired)
	last := slot.Add(-time.Hour)
	if s.Status.LastScheduleTime == nil || !s.Status.LastScheduleTime.Time.Equal(last) {
		t.Errorf("lastScheduleTime %v; want %s", s.Status.LastScheduleTime, last)
	}
	if s.Status.NextScheduleTime == nil || !s.Status.NextScheduleTime.Time.Equal(slot) {
		t.Errorf("nextScheduleTime %v; want %s", s.Status.NextScheduleTime, slot)
	}
	if want := int64(runs - len(w.have)); s.Status.Expired != want {
		t.Errorf("status.expired %d; want %d", s.Status.Expired, want)
	}
	want := map[string]float64{
		"cassandra_backup_schedule_last_success_timestamp_seconds": float64(s.Status.LastSuccessfulTime.Unix()),
		"cassandra_backup_schedule_period_seconds":                 3600,
		"cassandra_backup_schedule_retention_deletions_total":      float64(s.Status.Expired),
		`cassandra_backup_schedule_runs_total{result="started"}`:   float64(runs),
	}
	for name, v := range want {
		if got := e.metric(name); got != v {
			t.Errorf("%s = %v; want %v", name, got, v)
		}
	}
	if got := e.metric(`cassandra_backup_schedule_runs_total{result="failed"}`); got < 10 {
		t.Errorf("failed runs counted: %v; want the week's FAILED runs seen finishing (at least 10)", got)
	}
}
