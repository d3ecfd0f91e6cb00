package schedule_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// TestStartingDeadlineSkipsLateRuns: after an outage longer than the starting deadline,
// the missed run is skipped and counted, not started late; the next slot runs.
func TestStartingDeadlineSkipsLateRuns(t *testing.T) {
	e := newEnv(t)
	s := newSchedule("deadline", "0 * * * *", nil)
	s.Spec.StartingDeadline = &metav1.Duration{Duration: 10 * time.Minute}
	s.Spec.TimeZone = "America/New_York"
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slot := e.clock.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	e.clock.SetTime(slot.Add(2*time.Hour + 30*time.Minute)) // down over three slots, 30 min past the last
	e.start(schedule.Options{})
	e.until(slot.Add(2*time.Hour+50*time.Minute), "the late run skipped", func() bool { return e.get("deadline").Status.Skipped == 1 })
	if got := e.backups("deadline"); len(got) != 0 {
		t.Fatalf("runs %v started past the starting deadline", keys(got))
	}
	if st := e.get("deadline").Status; st.LastSkippedTime == nil || !st.LastSkippedTime.Time.Equal(slot.Add(2*time.Hour)) {
		t.Fatalf("lastSkippedTime %v; want %s", st.LastSkippedTime, slot.Add(2*time.Hour))
	}
	next := slot.Add(3 * time.Hour)
	e.clock.SetTime(next)
	e.until(next.Add(5*time.Minute), "the next run", func() bool { return e.backups("deadline")[schedule.RunName("deadline", next)] != nil })
	if st := e.get("deadline").Status; st.Skipped != 1 {
		t.Fatalf("skipped %d; want 1", st.Skipped)
	}
}

// TestSuspendAndInvalidSchedule: a suspended schedule starts nothing and says so; an
// unreadable cron expression or time zone is a Ready=False condition with a reason, and
// fixing it starts the schedule.
func TestSuspendAndInvalidSchedule(t *testing.T) {
	e := newEnv(t)
	e.start(schedule.Options{})
	scheds := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns)
	s := newSchedule("paused", "*/10 * * * *", nil)
	s.Spec.Suspend = true
	if _, err := scheds.Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := newSchedule("bad", "61 * * * *", nil)
	bad.Spec.TimeZone = "Mars/Olympus"
	if _, err := scheds.Create(context.Background(), bad, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := e.clock.Now()
	e.until(start.Add(2*time.Hour), "conditions Suspended and InvalidSchedule", func() bool {
		return reason(e.get("paused")) == schedule.ReasonSuspended && reason(e.get("bad")) == schedule.ReasonInvalidSchedule
	})
	e.clock.SetTime(start.Add(time.Hour))
	time.Sleep(300 * time.Millisecond)
	if got := e.backups("paused"); len(got) != 0 {
		t.Fatalf("a suspended schedule started %v", keys(got))
	}
	b := e.get("bad")
	b.Spec.Schedule, b.Spec.TimeZone = "*/10 * * * *", "Asia/Kolkata"
	if _, err := scheds.Update(context.Background(), b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.until(start.Add(3*time.Hour), "the fixed schedule runs", func() bool { return len(e.backups("bad")) == 1 })

	out, err := controlplane.Shared(t).Kubectl(context.Background(), nil, "get", "cassandrabackupschedules", "-n", e.ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl get cassandrabackupschedules:\n%s", out)
	for _, col := range []string{"SCHEDULE", "SUSPEND", "ACTIVE", "LAST SUCCESS", "NEXT RUN"} {
		if !strings.Contains(strings.SplitN(out, "\n", 2)[0], col) {
			t.Errorf("kubectl get shows no %s column", col)
		}
	}
}

func reason(s *v1alpha1.CassandraBackupSchedule) string {
	if c := meta.FindStatusCondition(s.Status.Conditions, "Ready"); c != nil {
		return c.Reason
	}
	return ""
}
