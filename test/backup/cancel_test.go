package backup_test

import (
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
)

// TestCancelAcrossRestart sets spec.cancel on a running backup while the operator is down;
// the next operator cancels every node's operation on its agent (which clears its
// snapshot), and the backup ends CANCELLED with its progress, no topology written, and
// stays so.
func TestCancelAcrossRestart(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	var nodes []*node
	for i, rack := range []string{"a", "b"} {
		nodes = append(nodes, e.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(180+i), 1_000_000))
	}
	op := e.startOperator(backup.Options{})
	e.create("stopme", slowSpec("dc1", "stopme"))
	e.waitFor("stopme", "RUNNING on every node", running)
	op.stop()

	b := e.get("stopme")
	b.Spec.Cancel = true
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Update(e.ctx(), b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.startOperator(backup.Options{})
	end := e.waitFor("stopme", "CANCELLED", func(b *v1alpha1.CassandraBackup) bool { return b.Status.State == v1alpha1.BackupCancelled })
	if c := condition(end, "Ready"); c == nil || c.Reason != backup.ReasonCancelledBySpec {
		t.Errorf("Ready %+v; want reason %s", c, backup.ReasonCancelledBySpec)
	}
	if end.Status.Progress == "" || end.Status.Progress == "100%" || end.Status.CompletionTime == nil {
		t.Errorf("progress %q, completion %v: want the partial progress and a completion time", end.Status.Progress, end.Status.CompletionTime)
	}
	for i, n := range nodes {
		ns := end.Status.Nodes[i]
		if ns.State != v1alpha1.BackupCancelled || ns.BytesUploaded == 0 {
			t.Errorf("node %s: %s, %d bytes uploaded; want CANCELLED with what was uploaded", ns.Node, ns.State, ns.BytesUploaded)
		}
		var opState api.State
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			o, err := e.agents.Get(e.ctx(), n.url(), ns.OperationID)
			if err != nil {
				t.Fatal(err)
			}
			if opState = o.State; opState == api.StateCancelled {
				break
			}
		}
		if opState != api.StateCancelled {
			t.Errorf("node %s: the agent's operation is %s; want CANCELLED", n.name, opState)
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var snaps []string
			for _, d := range n.fake.DataDirs() {
				m, _ := filepath.Glob(filepath.Join(d, "*", "*", "snapshots", "stopme*"))
				snaps = append(snaps, m...)
			}
			if len(snaps) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("node %s: snapshots left: %v", n.name, snaps)
				break
			}
		}
	}
	if keys := e.bucketKeys("topology/"); len(keys) != 0 {
		t.Errorf("a cancelled backup wrote its topology: %v", keys)
	}
	time.Sleep(time.Second)
	if got := e.get("stopme").Status.State; got != v1alpha1.BackupCancelled {
		t.Errorf("after cancel the backup went on to %s", got)
	}
}
