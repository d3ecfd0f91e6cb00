package location_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/location"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
)

// putTopology commits a backup in the bucket the way the backup controller does: a
// topology file of one datacenter.
func putTopology(t *testing.T, p storage.Provider, cluster, dc, tag string, at time.Time) location.Identity {
	t.Helper()
	schema := uuid.NewString()
	top := layout.Topology{Timestamp: at.UnixMilli(), ClusterName: cluster, SchemaVersion: schema,
		Topology: []layout.Host{{Hostname: dc + "-0", Cluster: cluster, DC: dc, Rack: "rack1", NodeID: uuid.NewString(), IPAddress: "198.18.0.9"}}}
	data, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	key := layout.TopologyKey(cluster, tag, schema, at)
	if _, err := p.Put(context.Background(), key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return location.Identity{Location: "shared", Cluster: cluster, Datacenter: dc, Tag: tag, EpochMillis: at.UnixMilli()}
}

// synced returns the names of the CassandraBackups labelled with the location.
func (e *env) synced(name string) []string {
	e.t.Helper()
	list, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: location.LabelLocation + "=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, b := range list.Items {
		out = append(out, b.Name)
	}
	slices.Sort(out)
	return out
}

// A location with spec.sync in a "new cluster" (a namespace that has no CassandraBackup)
// creates one justCreate CassandraBackup per remote backup, named deterministically and
// referencing the location; a later sync (in a restarted controller) creates only what
// is new, and a synced backup the user deleted is not created again.
func TestSyncFromBucket(t *testing.T) {
	e := newEnv(t)
	s3 := emulators.S3(t)
	s3.CreateBucket(t, "locations")
	p := openS3(t, s3)
	at := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	ids := []location.Identity{
		putTopology(t, p, "prod", "dc1", "nightly-1", at),
		putTopology(t, p, "prod", "dc1", "nightly-2", at.Add(24*time.Hour)),
		putTopology(t, p, "My_Cluster", "DC-2", "Weekly_2026.48", at.Add(48*time.Hour)),
	}
	e.secret("s3", s3.Secret())
	stop := e.start(location.Options{})
	s := spec("s3://locations", "s3")
	s.Sync = true
	e.location("shared", s)

	var want []string
	for _, id := range ids {
		want = append(want, location.BackupName(id))
	}
	slices.Sort(want)
	e.until("3 synced backups", func() bool { return slices.Equal(e.synced("shared"), want) })
	for _, id := range ids {
		b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Get(context.Background(), location.BackupName(id), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !b.Spec.JustCreate || b.Spec.LocationRef == nil || b.Spec.LocationRef.Name != "shared" || b.Spec.Cluster != id.Cluster ||
			b.Spec.Datacenter != id.Datacenter || b.Spec.SnapshotTag != id.Tag || b.Spec.StorageLocation != "" || b.Spec.DeletionPolicy != v1alpha1.DeletionPolicyRetain {
			t.Errorf("synced backup %s: spec %+v", b.Name, b.Spec)
		}
	}
	e.until("status.synced and remoteBackups", func() bool {
		l := e.get("shared")
		return slices.Equal(l.Status.Synced, want) && l.Status.RemoteBackups != nil && *l.Status.RemoteBackups == 3
	})

	// The user deletes one synced backup; a new remote backup appears; the operator restarts.
	deleted := location.BackupName(ids[0])
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(context.Background(), deleted, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	stop()
	added := putTopology(t, p, "prod", "dc1", "nightly-3", at.Add(72*time.Hour))
	e.start(location.Options{})
	want = []string{location.BackupName(added), location.BackupName(ids[1]), location.BackupName(ids[2])}
	slices.Sort(want)
	e.until("the new remote backup synced", func() bool { return slices.Equal(e.synced("shared"), want) })
	time.Sleep(time.Second) // a sync that would recreate the deleted one would have done it by now
	if got := e.synced("shared"); !slices.Equal(got, want) {
		t.Errorf("after the second sync: %v, want %v (the deleted %s is not recreated)", got, want, deleted)
	}
	if l := e.get("shared"); !slices.Contains(l.Status.Synced, deleted) || len(l.Status.Synced) != 4 {
		t.Errorf("status.synced = %v", l.Status.Synced)
	}

	out, err := controlplane.Shared(t).Kubectl(context.Background(), nil, "get", "cbl", "-n", e.ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl get cbl:\n%s", out)
	lines := strings.Split(out, "\n")
	for _, col := range []string{"STORAGE", "AVAILABLE", "BACKUPS", "LAST CHECK", "AGE"} {
		if !strings.Contains(lines[0], col) {
			t.Errorf("kubectl get cbl shows no %s column", col)
		}
	}
	if f := strings.Fields(lines[1]); len(f) < 4 || f[0] != "shared" || f[1] != "s3://locations" || f[2] != "True" || f[3] != "3" {
		t.Errorf("kubectl get cbl row: %q (want shared, s3://locations, True, 3 backups)", lines[1])
	}
}
