package schedule_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

// blindLister is a CassandraBackup cache that never catches up: it shows none of the
// backups the API server holds (the worst case of an informer lagging behind the runs
// the controller has just created).
type blindLister struct{}

func (blindLister) List(labels.Selector) ([]*v1alpha1.CassandraBackup, error) { return nil, nil }
func (blindLister) CassandraBackups(string) listers.CassandraBackupNamespaceLister {
	return blindLister{}
}
func (blindLister) Get(name string) (*v1alpha1.CassandraBackup, error) {
	return nil, &notFound{name}
}

type notFound struct{ name string }

func (e *notFound) Error() string { return "cassandrabackup " + e.name + " not in the cache" }

// TestForbidWithALaggingCache: with concurrencyPolicy Forbid, a run that the controller's
// cache does not show yet still blocks the next one: the next slot waits (Ready reason
// Waiting, the run in status.active) until the run finishes, then starts once.
func TestForbidWithALaggingCache(t *testing.T) {
	e := newEnv(t)
	e.start(schedule.Options{Backups: blindLister{}})
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns).Create(context.Background(),
		newSchedule("hourly", "0 * * * *", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slot := e.clock.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	first := schedule.RunName("hourly", slot)
	e.clock.SetTime(slot)
	e.until(slot.Add(30*time.Minute), "the first run", func() bool { return e.backups("hourly")[first] != nil })

	e.clock.SetTime(slot.Add(time.Hour))
	e.until(slot.Add(90*time.Minute), "the second slot waits for the first run", func() bool {
		s := e.get("hourly")
		return reason(s) == schedule.ReasonWaiting && len(s.Status.Active) == 1 && s.Status.Active[0] == first
	})
	for range 5 { // more ticks in the second slot
		e.clock.Step(time.Minute)
		time.Sleep(100 * time.Millisecond)
	}
	if got := e.backups("hourly"); len(got) != 1 {
		t.Fatalf("backups %v while %s runs; want only it (concurrencyPolicy Forbid)", keys(got), first)
	}

	e.finish(first, v1alpha1.BackupCompleted)
	second := schedule.RunName("hourly", slot.Add(time.Hour))
	e.until(slot.Add(110*time.Minute), "the second run once the first finished", func() bool { return e.backups("hourly")[second] != nil })
	if got := e.backups("hourly"); len(got) != 2 {
		t.Fatalf("backups %v; want %s and %s", keys(got), first, second)
	}
}
