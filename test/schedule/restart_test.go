package schedule_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
)

// TestRestartAfterCreateBeforeStatus kills the operator at the failpoint between a run's
// CassandraBackup creation and the status write that records it; the restarted operator
// (a new controller, no memory) finds the run: exactly one backup exists for the slot,
// the status records it, and the next slot gets its own run.
func TestRestartAfterCreateBeforeStatus(t *testing.T) {
	e := newEnv(t)
	var hits atomic.Int32
	killed := make(chan struct{})
	o := e.start(schedule.Options{Failpoint: func(point string) error {
		if point == schedule.FailpointCreated && hits.Add(1) == 1 {
			close(killed)
			return errors.New("failpoint: the operator dies here")
		}
		return nil
	}})
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns).Create(context.Background(),
		newSchedule("nightly", "0 * * * *", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slot := e.clock.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	e.clock.SetTime(slot.Add(time.Second))
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the failpoint was not reached")
	}
	o.stop()
	name := schedule.RunName("nightly", slot)
	if got := e.backups("nightly"); len(got) != 1 {
		t.Fatalf("after the kill: backups %v; want one", keys(got))
	}
	if s := e.get("nightly"); s.Status.LastScheduleTime != nil {
		t.Fatalf("the status records the run (%s) although the operator died before writing it", s.Status.LastScheduleTime)
	}

	e.clock.Step(5 * time.Minute)
	e.start(schedule.Options{})
	e.until(slot.Add(50*time.Minute), "the restarted operator records the run", func() bool {
		s := e.get("nightly")
		return s.Status.LastScheduleTime != nil && s.Status.LastScheduleTime.Time.Equal(slot)
	})
	for range 5 { // a few more ticks within the slot
		e.clock.Step(time.Minute)
		time.Sleep(100 * time.Millisecond)
	}
	if got := e.backups("nightly"); len(got) != 1 || got[name] == nil {
		t.Fatalf("after the restart: backups %v; want exactly one for the slot, %s", keys(got), name)
	}
	e.finish(name, v1alpha1.BackupCompleted)
	next := schedule.RunName("nightly", slot.Add(time.Hour))
	e.clock.SetTime(slot.Add(time.Hour))
	e.until(slot.Add(2*time.Hour), "the next slot's run", func() bool { return e.backups("nightly")[next] != nil })
	if got := e.backups("nightly"); len(got) != 2 {
		t.Fatalf("backups %v; want %s and %s", keys(got), name, next)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
