package backup_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
)

// noForeignJolokia fails the test if anything but a node's own agent called its Jolokia:
// the operator talks to nodes only through their agents.
func noForeignJolokia(t *testing.T, nodes ...*node) {
	t.Helper()
	for _, n := range nodes {
		if calls := n.foreignJolokiaCalls(); len(calls) != 0 {
			t.Errorf("node %s: Jolokia called by others than its agent (by User-Agent): %v", n.name, calls)
		}
		if n.fake.Callers()[agentUserAgent(n.name)] == 0 {
			t.Errorf("node %s: its agent never called Jolokia (is the count wired?)", n.name)
		}
	}
}

// TestClusterNameMismatch: nodes that report another cluster name than spec.cluster stop
// the backup before anything is submitted or uploaded (the agent gets no operation, the
// bucket is not even created), with both names in the condition.
func TestClusterNameMismatch(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	e.nodeCluster = "prod-cluster"
	n := e.startNode("dc1-a-0", "dc1", "a", 70, 20_000)
	e.startOperator(backup.Options{})
	e.create("mismatch", spec("dc1", "mismatch-1"))
	b := e.syncedFalse("mismatch", backup.ReasonClusterNameMismatch, `"prod-cluster"`, `spec.cluster "`+cluster+`"`, "dc1-a-0")
	if b.Status.Snapshot != "" || len(b.Status.Nodes) != 0 || n.posts.Load() != 0 {
		t.Errorf("the backup went on: %+v, %d operations submitted", b.Status, n.posts.Load())
	}
	noForeignJolokia(t, n)
}

// TestSpecCDC: a CassandraDataCenter of another datacenter than the backup's stops it; a
// backup whose spec.cdc names none goes by pod labels and says so in one event; and the
// operator never calls a node's Jolokia.
func TestSpecCDC(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	n := e.startNode("dc1-a-0", "dc1", "a", 71, 20_000)
	e.startOperator(backup.Options{})

	cdc := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: "other-dc", Namespace: e.ns},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: cluster, Datacenter: "dc2"}}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Create(e.ctx(), cdc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := spec("dc1", "cdc-1")
	s.CDC = "other-dc"
	e.create("wrong-cdc", s)
	b := e.syncedFalse("wrong-cdc", backup.ReasonDataCenterMismatch, "other-dc", `"dc2"`, `spec.datacenter "dc1"`)
	if b.Status.Snapshot != "" || n.posts.Load() != 0 {
		t.Errorf("the backup went on: %+v", b.Status)
	}

	e.create("no-cdc", spec("dc1", "cdc-2")) // spec.cdc names no object
	e.waitFor("no-cdc", "COMPLETED", completed)
	var said int32
	for _, ev := range e.events("no-cdc") {
		if ev.Reason == backup.ReasonDataCenterNotFound && ev.Type == corev1.EventTypeNormal {
			said += ev.Count
		}
	}
	if said != 1 {
		t.Errorf("%d %s events, want 1", said, backup.ReasonDataCenterNotFound)
	}
	noForeignJolokia(t, n)
}
