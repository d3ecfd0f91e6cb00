package kubectlplugin_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

func TestSchedules(t *testing.T) {
	e := newEnv(t)
	api := e.cs.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns)
	for _, s := range []struct {
		name, cron, zone string
		suspend          bool
		success          time.Duration
	}{
		{"nightly", "0 1 * * *", "Europe/Berlin", false, 2 * time.Hour},
		{"hourly", "0 * * * *", "", true, 0},
	} {
		created, err := api.Create(context.Background(), &v1alpha1.CassandraBackupSchedule{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: e.ns},
			Spec: v1alpha1.CassandraBackupScheduleSpec{Schedule: s.cron, TimeZone: s.zone, Suspend: s.suspend,
				Template: v1alpha1.BackupTemplate{CDC: "cassandra-dc1", Cluster: "prod", Datacenter: "dc1", StorageLocation: "s3://cassandra-backups"}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		next := metav1.NewTime(e.now.Add(90 * time.Minute))
		created.Status = v1alpha1.CassandraBackupScheduleStatus{NextScheduleTime: &next, ActiveCount: 1, Completed: 7, Failed: 1, Expired: 23}
		if s.success > 0 {
			last := metav1.NewTime(e.now.Add(-s.success))
			created.Status.LastSuccessfulTime = &last
		}
		if _, err := api.UpdateStatus(context.Background(), created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := e.run(t.Context(), "schedules")
	if err != nil {
		t.Fatal(err)
	}
	e.golden("schedules.txt", out)

	out, _, err = e.run(t.Context(), "schedules", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list v1alpha1.CassandraBackupScheduleList
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 2 || list.Items[1].Kind != "CassandraBackupSchedule" || list.Items[1].Status.Expired != 23 {
		t.Fatalf("schedules -o json: %v, %d items", err, len(list.Items))
	}
}
