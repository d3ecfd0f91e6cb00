package backup_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	opdeps "github.com/cassbackup/cassandra-backup-operator/pkg/operator"
)

// startScheduler runs the schedule controller on the real clock beside the env's operator.
func (e *env) startScheduler() {
	set := informers.New(e.kube, e.client, informers.Config{Namespaces: []string{e.ns}})
	ctrl, err := schedule.NewWithOptions(opdeps.Deps{KubeClient: e.kube, Client: e.client, Informers: set, Recorder: &record.FakeRecorder{}},
		schedule.Options{PollInterval: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	set.Start(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ctrl.Run(ctx, 1)
		set.Shutdown()
	}()
	e.t.Cleanup(func() { cancel(); <-done })
}

// TestScheduleOnTheRealClock: a schedule every 5 seconds with keepLast 2 makes real
// backups through the backup controller, the agents and the S3 server: after 3 COMPLETED
// runs, the oldest is expired, its CassandraBackup deleted and, with deletionPolicy Delete,
// its topology gone from the bucket; suspend then stops new runs.
func TestScheduleOnTheRealClock(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	for i, rack := range []string{"a", "b"} {
		e.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(160+i), 20_000)
	}
	e.startOperator(backup.Options{})
	e.startScheduler()
	sp := spec("dc1", "unused")
	s := &v1alpha1.CassandraBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: "often"},
		Spec: v1alpha1.CassandraBackupScheduleSpec{
			Schedule:  "*/5 * * * * *",
			Retention: &v1alpha1.Retention{KeepLast: 2},
			Template: v1alpha1.BackupTemplate{CDC: sp.CDC, Cluster: sp.Cluster, Datacenter: sp.Datacenter, StorageLocation: sp.StorageLocation,
				Secret: sp.Secret, Insecure: sp.Insecure, CreateMissingBucket: sp.CreateMissingBucket},
		},
	}
	scheds := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns)
	if _, err := scheds.Create(e.ctx(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	completedRuns := map[string]bool{}
	var got *v1alpha1.CassandraBackupSchedule
	err := wait.PollUntilContextTimeout(e.ctx(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).List(ctx, metav1.ListOptions{LabelSelector: schedule.LabelSchedule + "=often"})
		if err != nil {
			return false, err
		}
		for _, b := range list.Items {
			if b.Status.State == v1alpha1.BackupCompleted {
				completedRuns[b.Name] = true
			}
			if b.Status.State == v1alpha1.BackupFailed {
				t.Fatalf("run %s FAILED: %v", b.Name, b.Status.Conditions)
			}
		}
		got, err = scheds.Get(ctx, "often", metav1.GetOptions{})
		return len(completedRuns) >= 3 && got.Status.Expired >= 1, err
	})
	if err != nil {
		t.Fatalf("3 completed runs and 1 expired: %v (completed %v, status %+v)", err, completedRuns, got.Status)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range completedRuns {
			if !yield(n) {
				return
			}
		}
	})
	oldest := names[0]
	e.waitGone(oldest)
	if keys := e.bucketKeys("topology/" + cluster + "-" + oldest + "-"); len(keys) != 0 {
		t.Errorf("the expired run's topology is still in the bucket: %v", keys)
	}
	for _, n := range names[1:3] {
		if b := e.get(n); b.Status.State != v1alpha1.BackupCompleted {
			t.Errorf("run %s: %s; want it kept, COMPLETED", n, b.Status.State)
		}
		if keys := e.bucketKeys("topology/" + cluster + "-" + n + "-"); len(keys) != 1 {
			t.Errorf("run %s: topology %v", n, keys)
		}
	}
	if !strings.HasPrefix(oldest, "often-") || got.Status.LastSuccessfulTime == nil {
		t.Errorf("run names %v, status %+v", names, got.Status)
	}
	t.Logf("runs %v; status: last success %s, expired %d", names, got.Status.LastSuccessfulTime, got.Status.Expired)

	// Suspend: no run starts afterwards (the one in flight may finish).
	got.Spec.Suspend = true
	if _, err := scheds.Update(e.ctx(), got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = wait.PollUntilContextTimeout(e.ctx(), 200*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		s, err := scheds.Get(ctx, "often", metav1.GetOptions{})
		return err == nil && s.Status.NextScheduleTime == nil, nil
	})
	before := e.runNames("often")
	time.Sleep(11 * time.Second)
	if after := e.runNames("often"); len(after) > len(before) {
		t.Errorf("suspended schedule started runs: before %v, after %v", before, after)
	}
}

func (e *env) runNames(sched string) []string {
	list, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).List(e.ctx(), metav1.ListOptions{LabelSelector: schedule.LabelSchedule + "=" + sched})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, b := range list.Items {
		out = append(out, b.Name)
	}
	return out
}
