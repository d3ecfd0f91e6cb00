package backup_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestDeleteWhileReusingBackupUploads deletes B1 (deletionPolicy Delete) while B2, which
// reuses every data object of B1, is uploading a new SSTable: B1's manifest and topology
// go at once, its data objects stay while B2 is in flight (the finalizer is held with
// reason BackupInFlight), B1 is gone once B2 completed, and B2 restores byte for byte.
func TestDeleteWhileReusingBackupUploads(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	n := e.startNode("dc1-a-0", "dc1", "a", 90, 300_000)
	e.startOperator(backup.Options{})

	b1 := spec("dc1", "b1")
	b1.DeletionPolicy = v1alpha1.DeletionPolicyDelete
	e.create("b1", b1)
	e.waitFor("b1", "COMPLETED", completed)
	// A new SSTable that B2 uploads slowly; everything else it reuses from B1.
	if err := n.fake.WriteSSTable("ks1", "t1", 1_500_000); err != nil {
		t.Fatal(err)
	}
	source := gcUserFiles(t, n.fake.DataDirs())
	e.create("b2", slowSpec("dc1", "b2"))
	e.waitFor("b2", "RUNNING with bytes uploaded (past its dedup check)", running)

	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(e.ctx(), "b1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	held := e.waitFor("b1", "its deletion held by the backup in flight", func(b *v1alpha1.CassandraBackup) bool {
		c := condition(b, "Synced")
		return c != nil && c.Reason == backup.ReasonBackupInFlight
	})
	if !strings.Contains(condition(held, "Synced").Message, "b2") {
		t.Errorf("Synced does not name the backup in flight: %+v", condition(held, "Synced"))
	}
	if keys := e.bucketKeys("topology/" + cluster + "-b1-"); len(keys) != 0 {
		t.Errorf("B1's topology is still there while its deletion waits: %v", keys)
	}
	e.waitFor("b2", "COMPLETED", completed)
	e.waitGone("b1")

	restored := gcRestore(t, e, "b2", n.fake.HostID())
	if len(restored) == 0 || len(restored) != len(source) {
		t.Fatalf("restored %d files of B2, the node had %d", len(restored), len(source))
	}
	for p, data := range source {
		if !bytes.Equal(restored[p], data) {
			t.Errorf("%s: restored %d bytes, differ from the node's %d", p, len(restored[p]), len(data))
		}
	}
	if left := e.bucketKeys(cluster + "/dc1/" + n.fake.HostID() + "/" + layout.InFlightDir + "/"); len(left) != 0 {
		t.Errorf("in-flight markers or locks left: %v", left)
	}
}

// TestDeleteHeldWhileRestoring: a backup that a CassandraDataCenter's spec.restore names
// is kept, with reason InUseByRestore and an event, until that restore is COMPLETED.
func TestDeleteHeldWhileRestoring(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	e.startNode("dc1-a-0", "dc1", "a", 91, 20_000)
	e.startOperator(backup.Options{})
	s := spec("dc1", "kept")
	s.DeletionPolicy = v1alpha1.DeletionPolicyDelete
	e.create("kept", s)
	e.waitFor("kept", "COMPLETED", completed)
	nodes := int32(1)
	dc := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: "restoring", Namespace: e.ns},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: "copy", Datacenter: "dc1", Nodes: &nodes, Racks: []v1alpha1.Rack{{Name: "a"}},
			Restore: &v1alpha1.RestoreSpec{BackupName: "kept"}}}
	dc, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Create(e.ctx(), dc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(e.ctx(), "kept", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	held := e.waitFor("kept", "its deletion held by the restore", func(b *v1alpha1.CassandraBackup) bool {
		c := condition(b, "Synced")
		return c != nil && c.Reason == backup.ReasonInUseByRestore
	})
	if msg := condition(held, "Synced").Message; !strings.Contains(msg, "restoring") {
		t.Errorf("Synced does not name the datacenter: %s", msg)
	}
	gcWaitEvent(t, e, "kept", corev1.EventTypeWarning, backup.ReasonInUseByRestore)
	if keys := e.bucketKeys("topology/" + cluster + "-kept-"); len(keys) != 1 {
		t.Fatalf("the backup a datacenter restores from was deleted from the bucket: %v", keys)
	}

	dc.Status.Restore = &v1alpha1.RestoreStatus{State: v1alpha1.RestoreCompleted, BackupName: "kept"}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).UpdateStatus(e.ctx(), dc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone("kept")
	if keys := e.bucketKeys("topology/" + cluster + "-kept-"); len(keys) != 0 {
		t.Errorf("topology left after the deletion: %v", keys)
	}
}

// TestFailedAttemptLeavesNoOrphans restarts the node's agent mid-upload: the operator
// resubmits, the second attempt uploads the components the first left (no manifest
// records them) under revision keys, and once the backup is COMPLETED nothing under the
// node's data prefix is unreferenced and the incomplete multipart upload an agent killed
// mid-upload would leave is aborted.
func TestFailedAttemptLeavesNoOrphans(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	n := e.startNode("dc1-a-0", "dc1", "a", 92, 800_000)
	for i := 0; i < 6; i++ {
		if err := n.fake.WriteSSTable("ks1", "t2", 4_000); err != nil {
			t.Fatal(err)
		}
	}
	e.startOperator(backup.Options{})
	// Progress reaches status every 5 s: slow enough that a write shows a third uploaded.
	s := slowSpec("dc1", "retried")
	q := resource.MustParse("64Ki")
	s.Bandwidth = &q
	e.create("retried", s)
	e.waitFor("retried", "RUNNING with a third uploaded", func(b *v1alpha1.CassandraBackup) bool {
		return running(b) && b.Status.Nodes[0].BytesUploaded*3 > b.Status.Nodes[0].BytesTotal
	})
	node := layout.Node{Cluster: cluster, Datacenter: "dc1", HostID: n.fake.HostID()}
	stray := node.Key(layout.SSTableKey("ks1", "t9-0", "", "nb-1", "big", "nb-1-big-Data.db"))
	if _, err := e.s3.Client().CreateMultipartUpload(e.ctx(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(stray)}); err != nil {
		t.Fatal(err)
	}
	n.restart()
	b := e.waitFor("retried", "COMPLETED", completed)
	if b.Status.Nodes[0].Attempts < 2 {
		t.Fatalf("the node's operation was not resubmitted: %+v", b.Status.Nodes[0])
	}
	if orphans := gcUnreferenced(t, e, node); len(orphans) != 0 {
		t.Errorf("%d objects no manifest references after the backup completed: %v", len(orphans), orphans)
	}
	out, err := e.s3.Client().ListMultipartUploads(e.ctx(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(node.Prefix() + "/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Errorf("%d incomplete multipart uploads left under the node", len(out.Uploads))
	}
}

// gcUnreferenced lists the node's data objects that no manifest references, read
// independently of pkg/layout's Catalog: each manifest's objectKey fields.
func gcUnreferenced(t *testing.T, e *env, node layout.Node) []string {
	t.Helper()
	referenced := map[string]bool{}
	for _, k := range e.bucketKeys(node.ManifestPrefix()) {
		out, err := e.s3.Client().GetObject(e.ctx(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(out.Body)
		out.Body.Close()
		var m struct {
			Snapshot struct {
				Keyspaces map[string]struct {
					Tables map[string]struct {
						SSTables map[string][]struct {
							ObjectKey string `json:"objectKey"`
						} `json:"sstables"`
					} `json:"tables"`
				} `json:"keyspaces"`
			} `json:"snapshot"`
		}
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("manifest %s: %v", k, err)
		}
		for _, ks := range m.Snapshot.Keyspaces {
			for _, tb := range ks.Tables {
				for _, entries := range tb.SSTables {
					for _, en := range entries {
						referenced[node.Key(en.ObjectKey)] = true
					}
				}
			}
		}
	}
	if len(referenced) == 0 {
		t.Fatal("no manifest references anything")
	}
	var out []string
	for _, k := range e.bucketKeys(node.Key(layout.DataDir + "/")) {
		if !referenced[k] && !strings.HasSuffix(k, "/"+layout.SchemaFile) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// gcRestore restores the node's backup with tag into a new directory with the real agent
// and returns its user keyspaces' files.
func gcRestore(t *testing.T, e *env, tag, hostID string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	a := &agent.Agent{Secrets: secret.Reader{Kube: e.kube}.Source}
	_, err := a.Restore(e.ctx(), agent.RestoreSpec{
		Request: api.Request{StorageLocation: "s3://" + bucket, SnapshotTag: tag, Insecure: true,
			K8sNamespace: e.ns, K8sSecretName: secretName, DataDirs: []string{dir}},
		Cluster: cluster, Datacenter: "dc1", HostID: hostID,
	}, &agent.Tracker{})
	if err != nil {
		t.Fatalf("restore of %s: %v", tag, err)
	}
	return gcUserFiles(t, []string{dir})
}

// gcUserFiles returns the SSTable files of the user keyspaces under the data directories.
func gcUserFiles(t *testing.T, dirs []string) map[string][]byte {
	t.Helper()
	out, err := fakecassandra.DataFiles(dirs, func(ks, _ string) bool { return !cassandra.IsSystemKeyspace(ks) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// gcWaitEvent waits for an event of the type and reason about the named object.
func gcWaitEvent(t *testing.T, e *env, name, typ, reason string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		for _, ev := range e.events(name) {
			if ev.Type == typ && ev.Reason == reason {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("no %s event %s about %s within %s", typ, reason, name, deadline)
}
