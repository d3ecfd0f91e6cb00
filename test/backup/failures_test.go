package backup_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
)

// slowSpec caps each node's upload so a backup lasts a few seconds.
func slowSpec(dc, tag string) v1alpha1.CassandraBackupSpec {
	s := spec(dc, tag)
	q := resource.MustParse("64Ki") // a node's 1.3 MB takes ~20 s: status shows its progress (written every 5 s) while it runs
	s.Bandwidth = &q
	return s
}

func running(b *v1alpha1.CassandraBackup) bool {
	if b.Status.State != v1alpha1.BackupRunning {
		return false
	}
	for _, n := range b.Status.Nodes {
		if n.OperationID == "" || n.BytesUploaded == 0 || n.State != v1alpha1.BackupRunning {
			return false
		}
	}
	return true
}

// TestOperatorRestartMidBackup stops the operator while every node uploads and starts a
// new one: the backup completes and no node got a second operation.
func TestOperatorRestartMidBackup(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	var nodes []*node
	for i, rack := range []string{"a", "b", "c"} {
		nodes = append(nodes, e.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(10+i), 1_000_000))
	}
	op := e.startOperator(backup.Options{})
	e.create("restart", slowSpec("dc1", "restart-1"))
	e.waitFor("restart", "RUNNING on every node", running)
	op.stop()
	mid := e.get("restart")
	if mid.Status.State == v1alpha1.BackupCompleted {
		t.Fatalf("the backup completed before the operator stopped: make it slower")
	}
	e.startOperator(backup.Options{})
	sameOperations(t, nodes, mid, e.waitFor("restart", "COMPLETED", completed))
}

// TestAgentRestartMidBackup restarts one agent while it uploads: the operator finds its
// operation unknown (404), resubmits it, and the backup completes.
func TestAgentRestartMidBackup(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	var nodes []*node
	for i, rack := range []string{"a", "b", "c"} {
		nodes = append(nodes, e.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(20+i), 1_000_000))
	}
	e.startOperator(backup.Options{})
	e.create("agent-restart", slowSpec("dc1", "agent-restart-1"))
	first := e.waitFor("agent-restart", "RUNNING on every node", running)
	nodes[1].restart()
	b := e.waitFor("agent-restart", "COMPLETED", completed)
	n := b.Status.Nodes[1]
	if got := nodes[1].posts.Load(); got != 2 || n.Attempts != 2 || n.OperationID == first.Status.Nodes[1].OperationID {
		t.Errorf("restarted node: %d submissions, status %+v; want 2 and a new operation id", got, n)
	}
	for _, i := range []int{0, 2} {
		if got := nodes[i].posts.Load(); got != 1 {
			t.Errorf("node %s: %d submissions, want 1", nodes[i].name, got)
		}
	}
}

// TestNodeFailing makes one node's snapshot fail: its operation is retried a bounded
// number of times, then the backup is FAILED with that node's message, and the other
// nodes' uploads are kept.
func TestNodeFailing(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	var nodes []*node
	for i, rack := range []string{"a", "b", "c"} {
		nodes = append(nodes, e.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(30+i), 50_000))
	}
	nodes[2].fake.SetHook(func(req jolokia.Request) error {
		if strings.HasPrefix(req.Operation, "takeSnapshot") {
			return errors.New("java.io.IOException: No space left on device")
		}
		return nil
	})
	e.startOperator(backup.Options{MaxAttempts: 2})
	e.create("failing", spec("dc1", "failing-1"))
	b := e.waitFor("failing", "FAILED", func(b *v1alpha1.CassandraBackup) bool { return b.Status.State == v1alpha1.BackupFailed })
	bad := b.Status.Nodes[2]
	if bad.State != v1alpha1.BackupFailed || bad.Attempts != 2 || !strings.Contains(bad.Message, "No space left on device") || bad.Progress == "100%" {
		t.Errorf("failed node: %+v", bad)
	}
	if got := nodes[2].posts.Load(); got != 2 {
		t.Errorf("failed node got %d submissions, want 2", got)
	}
	ready := condition(b, "Ready")
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != backup.ReasonBackupFailed || !strings.Contains(ready.Message, "No space left on device") {
		t.Errorf("Ready: %+v", ready)
	}
	if b.Status.Progress == "100%" {
		t.Errorf("a failed backup shows %s", b.Status.Progress)
	}
	for _, i := range []int{0, 1} {
		if b.Status.Nodes[i].State != v1alpha1.BackupCompleted {
			t.Errorf("node %d: %+v", i, b.Status.Nodes[i])
		}
		if keys := e.bucketKeys(cluster + "/dc1/" + nodes[i].fake.HostID() + "/manifests/failing-1-"); len(keys) != 1 {
			t.Errorf("manifest of the completed node %s: %v", nodes[i].name, keys)
		}
	}
	if keys := e.bucketKeys("topology/"); len(keys) != 0 {
		t.Errorf("a failed backup was committed: %v", keys)
	}
	e.noSecretIn("failing")
}

// TestTimeoutUnreachableAgent stops an agent for good: the node is FAILED at the timeout.
func TestTimeoutUnreachableAgent(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	n := e.startNode("dc1-a-0", "dc1", "a", 40, 20_000)
	n.stop()
	e.startOperator(backup.Options{})
	s := spec("dc1", "timeout-1")
	s.Timeout = &metav1.Duration{Duration: 5 * time.Second}
	e.create("timeout", s)
	b := e.waitFor("timeout", "FAILED", func(b *v1alpha1.CassandraBackup) bool { return b.Status.State == v1alpha1.BackupFailed })
	if m := b.Status.Nodes[0].Message; !strings.Contains(m, "agent unreachable") || !strings.Contains(m, "timeout") {
		t.Errorf("node message: %q", m)
	}
}

// TestAdoptsOperationOfCrashedOperator stands for an operator killed between its POST and
// its status write: the operation already runs on the agent when the (new) operator
// reaches the node, and it is adopted instead of submitted again.
func TestAdoptsOperationOfCrashedOperator(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	n := e.startNode("dc1-a-0", "dc1", "a", 45, 300_000)
	s := slowSpec("dc1", "adopt-1")
	req := api.Request{Type: api.TypeBackup, StorageLocation: s.StorageLocation, SnapshotTag: s.SnapshotTag,
		Insecure: true, CreateMissingBucket: true, K8sNamespace: e.ns, K8sSecretName: secretName, DC: "dc1",
		Bandwidth: &api.Bandwidth{Value: s.Bandwidth.Value(), Unit: "BPS"}}
	orphan, err := e.agents.Submit(e.ctx(), n.url(), req)
	if err != nil {
		t.Fatal(err)
	}
	// The status a killed operator left: snapshot and nodes recorded, no operation id.
	e.create("adopt", s)
	left := e.get("adopt")
	now := metav1.Now()
	left.Status = v1alpha1.CassandraBackupStatus{State: v1alpha1.BackupPending, Progress: "0%", Snapshot: s.SnapshotTag, StartTime: &now,
		Nodes: []v1alpha1.NodeBackupStatus{{Node: n.name, Rack: "a", HostID: n.fake.HostID(), State: v1alpha1.BackupPending, Progress: "0%"}}}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).UpdateStatus(e.ctx(), left, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.startOperator(backup.Options{})
	b := e.waitFor("adopt", "COMPLETED", completed)
	if got := n.posts.Load(); got != 1 {
		t.Errorf("the agent got %d operations, want 1 (the orphan, adopted)", got)
	}
	if id := b.Status.Nodes[0].OperationID; id != orphan.ID {
		t.Errorf("operation %s in status, want the orphan %s", id, orphan.ID)
	}
}
