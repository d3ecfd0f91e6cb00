package backup_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/location"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
)

func (e *env) location(name string, sync bool) {
	e.t.Helper()
	l := &v1alpha1.CassandraBackupLocation{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.CassandraBackupLocationSpec{
		BackupStorage: v1alpha1.BackupStorage{StorageLocation: "s3://" + bucket, Secret: secretName, Insecure: true, CreateMissingBucket: true},
		Sync:          sync}}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackupLocations(e.ns).Create(e.ctx(), l, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// A backup with spec.locationRef waits (LocationNotFound) until its location exists,
// runs with the location's bucket and Secret, and records the location in status; a
// later edit of the location does not change it. In a second "cluster" (another
// namespace without pods), a location with spec.sync imports the backup as a justCreate
// CassandraBackup that the backup controller completes from the bucket.
func TestBackupViaLocationRef(t *testing.T) {
	s3 := s3Server(t)
	src := newEnv(t, s3)
	src.secret(secretName, nil)
	for i, rack := range []string{"a", "b"} {
		src.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(80+i), 20_000)
	}
	src.startOperator(backup.Options{})
	s := spec("dc1", "via-ref-1")
	s.StorageLocation, s.Secret, s.Insecure, s.CreateMissingBucket = "", "", false, false
	s.LocationRef = &v1alpha1.LocationReference{Name: "primary"}
	src.create("via-ref", s)
	src.waitFor("via-ref", "Synced=False LocationNotFound", func(b *v1alpha1.CassandraBackup) bool {
		c := condition(b, "Synced")
		return c != nil && c.Reason == backup.ReasonLocationNotFound
	})
	if b := src.get("via-ref"); b.Status.Snapshot != "" || b.Status.Location != nil {
		t.Fatalf("a backup without its location started: %+v", b.Status)
	}
	src.location("primary", false)
	b := src.waitFor("via-ref", "COMPLETED", completed)
	if l := b.Status.Location; l == nil || l.Name != "primary" || l.StorageLocation != "s3://"+bucket || l.Secret != secretName {
		t.Fatalf("status.location = %+v", b.Status.Location)
	}
	if keys := src.bucketKeys("topology/" + cluster + "-via-ref-1-"); len(keys) != 1 {
		t.Fatalf("topology of the backup: %v", keys)
	}
	l, err := src.client.CassandraoperatorV1alpha1().CassandraBackupLocations(src.ns).Get(src.ctx(), "primary", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.Secret = "rotated"
	if _, err := src.client.CassandraoperatorV1alpha1().CassandraBackupLocations(src.ns).Update(src.ctx(), l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if got := src.get("via-ref").Status.Location; got.Secret != secretName {
		t.Errorf("a finished backup's location followed an edit of the CassandraBackupLocation: %+v", got)
	}

	dst := newEnv(t, s3)
	dst.secret(secretName, nil)
	dst.locations = &location.Options{Tick: 200 * time.Millisecond, Period: time.Hour}
	dst.startOperator(backup.Options{ImportInterval: time.Second})
	dst.location("primary", true)
	name := location.BackupName(location.Identity{Location: "primary", Cluster: cluster, Datacenter: "dc1", Tag: "via-ref-1",
		EpochMillis: topologyMillis(t, src.bucketKeys("topology/" + cluster + "-via-ref-1-")[0])})
	var imported *v1alpha1.CassandraBackup
	for deadline := time.Now().Add(time.Minute); imported == nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sync created no backup %s", name)
		}
		imported, _ = dst.client.CassandraoperatorV1alpha1().CassandraBackups(dst.ns).Get(context.Background(), name, metav1.GetOptions{})
		if imported != nil && imported.Name == "" {
			imported = nil
		}
	}
	got := dst.waitFor(name, "COMPLETED", completed)
	if len(got.Status.Nodes) != 2 || got.Status.Location == nil || got.Status.Location.Name != "primary" {
		t.Fatalf("synced backup: %+v", got.Status)
	}
	for i, n := range got.Status.Nodes {
		if o := b.Status.Nodes[i]; n.HostID != o.HostID || n.BytesTotal != o.BytesTotal {
			t.Errorf("synced node %d: %+v, original %+v", i, n, o)
		}
	}
}

// topologyMillis is the time of a topology key of the test's cluster.
func topologyMillis(t *testing.T, key string) int64 {
	t.Helper()
	ref, err := layout.ParseTopologyKey(key, cluster)
	if err != nil {
		t.Fatal(err)
	}
	return ref.EpochMillis
}
