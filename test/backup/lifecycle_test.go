package backup_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
)

// TestJustCreate imports a completed remote backup into another namespace (as into
// another Kubernetes cluster), and keeps looking for one that does not exist yet.
func TestJustCreate(t *testing.T) {
	s3 := s3Server(t)
	src := newEnv(t, s3)
	src.secret(secretName, nil)
	var nodes []*node
	for i, rack := range []string{"a", "b", "c"} {
		nodes = append(nodes, src.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(60+i), 30_000))
	}
	src.startOperator(backup.Options{})
	src.create("source", spec("dc1", "import-1"))
	orig := src.waitFor("source", "COMPLETED", completed)

	dst := newEnv(t, s3) // no pods, no agents: nothing can be backed up here
	dst.secret(secretName, nil)
	dst.startOperator(backup.Options{ImportInterval: time.Second})
	s := spec("dc1", "import-1")
	s.JustCreate = true
	dst.create("imported", s)
	b := dst.waitFor("imported", "COMPLETED", completed)
	if b.Status.Progress != "100%" || b.Status.Snapshot != "import-1" || len(b.Status.Nodes) != 3 {
		t.Fatalf("imported status: %+v", b.Status)
	}
	for i, n := range b.Status.Nodes {
		o := orig.Status.Nodes[i]
		if n.Node != o.Node || n.HostID != o.HostID || n.Rack != o.Rack || n.State != v1alpha1.BackupCompleted || n.BytesTotal != o.BytesTotal {
			t.Errorf("imported node %d: %+v, original %+v", i, n, o)
		}
	}
	if c := condition(b, "Ready"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready: %+v", c)
	}

	s = spec("dc1", "import-2")
	s.JustCreate = true
	dst.create("not-yet", s)
	dst.waitFor("not-yet", "Ready=False RemoteBackupNotFound", func(b *v1alpha1.CassandraBackup) bool {
		c := condition(b, "Ready")
		return c != nil && c.Reason == backup.ReasonRemoteBackupNotFound && strings.Contains(c.Message, "import-2")
	})
	// The backup appears later in the bucket: the periodic look finds it.
	src.create("source-2", spec("dc1", "import-2"))
	src.waitFor("source-2", "COMPLETED", completed)
	dst.waitFor("not-yet", "COMPLETED after the remote backup appeared", completed)
	for _, n := range nodes {
		if got := n.posts.Load(); got != 2 {
			t.Errorf("node %s: %d operations, want 2 (justCreate must not back up)", n.name, got)
		}
	}
}

// TestDeletionPolicies deletes backups with Retain (the bucket is untouched) and Delete
// (manifests, topology and data objects no other backup references are removed).
func TestDeletionPolicies(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	var nodes []*node
	for i, rack := range []string{"a", "b"} {
		nodes = append(nodes, e.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(70+i), 40_000))
	}
	e.startOperator(backup.Options{})

	keep := spec("dc1", "first")
	e.create("first", keep)
	e.waitFor("first", "COMPLETED", completed)
	all1 := e.bucketKeys(cluster + "/")

	// New SSTables after the first backup: only the second backup references them.
	for _, n := range nodes {
		if err := n.fake.WriteSSTable("ks1", "t1", 10_000); err != nil {
			t.Fatal(err)
		}
	}
	del := spec("dc1", "second")
	del.DeletionPolicy = v1alpha1.DeletionPolicyDelete
	e.create("second", del)
	e.waitFor("second", "COMPLETED", completed)
	all2 := e.bucketKeys(cluster + "/")
	var onlySecond []string
	for _, k := range all2 {
		if !slices.Contains(all1, k) && strings.Contains(k, "/data/") {
			onlySecond = append(onlySecond, k)
		}
	}
	if len(onlySecond) == 0 {
		t.Fatal("the second backup uploaded no data object of its own")
	}

	retain := spec("dc1", "third")
	e.create("third", retain)
	e.waitFor("third", "COMPLETED", completed)
	before := e.bucketKeys("")
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(e.ctx(), "third", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone("third")
	if after := e.bucketKeys(""); !slices.Equal(before, after) {
		t.Errorf("Retain changed the bucket: %d keys before, %d after", len(before), len(after))
	}

	// The third backup references every object of the second: deleting the second
	// removes its manifests and topology, and no data.
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(e.ctx(), "second", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone("second")
	if keys := e.bucketKeys("topology/" + cluster + "-second-"); len(keys) != 0 {
		t.Errorf("topology of the deleted backup: %v", keys)
	}
	for _, n := range nodes {
		if keys := e.bucketKeys(cluster + "/dc1/" + n.fake.HostID() + "/manifests/second-"); len(keys) != 0 {
			t.Errorf("manifests of the deleted backup: %v", keys)
		}
	}
	after := e.bucketKeys(cluster + "/")
	for _, k := range onlySecond {
		if !slices.Contains(after, k) {
			t.Errorf("%s was deleted though the third backup references it", k)
		}
	}

	// A fourth backup with Delete, of data only it and the (retained) third hold: delete
	// the third's manifests by hand is not ours to do; instead back up new data.
	for _, n := range nodes {
		if err := n.fake.WriteSSTable("ks1", "t2", 12_000); err != nil {
			t.Fatal(err)
		}
	}
	e.create("fourth", func() v1alpha1.CassandraBackupSpec {
		s := spec("dc1", "fourth")
		s.DeletionPolicy = v1alpha1.DeletionPolicyDelete
		return s
	}())
	e.waitFor("fourth", "COMPLETED", completed)
	var onlyFourth []string
	for _, k := range e.bucketKeys(cluster + "/") {
		if !slices.Contains(after, k) && strings.Contains(k, "/data/") {
			onlyFourth = append(onlyFourth, k)
		}
	}
	if len(onlyFourth) == 0 {
		t.Fatal("the fourth backup uploaded no data object of its own")
	}
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(e.ctx(), "fourth", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone("fourth")
	final := e.bucketKeys(cluster + "/")
	for _, k := range onlyFourth {
		if slices.Contains(final, k) {
			t.Errorf("%s, referenced only by the deleted backup, is still in the bucket", k)
		}
	}
	for _, k := range after {
		if !slices.Contains(final, k) {
			t.Errorf("%s, referenced by the first and third backups, was deleted", k)
		}
	}
	if keys := e.bucketKeys("topology/" + cluster + "-fourth-"); len(keys) != 0 {
		t.Errorf("topology of the deleted backup: %v", keys)
	}
}

// TestConcurrentBackups runs 10 backups at once over two datacenters of 3 nodes.
func TestConcurrentBackups(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	var nodes []*node
	for _, dc := range []string{"dc1", "dc2"} {
		for i, rack := range []string{"a", "b", "c"} {
			nodes = append(nodes, e.startNode(dc+"-"+rack+"-0", dc, rack, uint64(len(nodes)+80+i), 30_000))
		}
	}
	e.startOperator(backup.Options{})
	var names []string
	for i := 0; i < 10; i++ {
		dc := []string{"dc1", "dc2"}[i%2]
		name := fmt.Sprintf("concurrent-%d", i)
		e.create(name, spec(dc, fmt.Sprintf("tag-%d", i)))
		names = append(names, name)
	}
	for _, name := range names {
		b := e.waitFor(name, "COMPLETED", completed)
		if len(b.Status.Nodes) != 3 || b.Status.Progress != "100%" {
			t.Errorf("%s: %+v", name, b.Status)
		}
		for _, n := range b.Status.Nodes {
			if !strings.HasPrefix(n.Node, b.Spec.Datacenter+"-") {
				t.Errorf("%s backed up node %s of another datacenter", name, n.Node)
			}
		}
	}
	for _, n := range nodes {
		if got := n.posts.Load(); got != 5 {
			t.Errorf("node %s: %d operations, want 5", n.name, got)
		}
	}
	if keys := e.bucketKeys("topology/"); len(keys) != 10 {
		t.Errorf("%d topology files, want 10", len(keys))
	}
}
