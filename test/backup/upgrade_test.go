package backup_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestOperatorUpgradeMidBackup replaces an operator binary of one release with the next
// release's while every node uploads, as a rolling update of the Deployment does. The
// agents are of the first release line and name no version (agents update only when their
// pods restart): the new operator accepts them under the skew policy, resumes the backup
// from its status, and submits nothing again.
func TestOperatorUpgradeMidBackup(t *testing.T) {
	const oldVersion, newVersion = "v0.1.0", "v0.2.0"
	oldBin := controlplane.GoBuild(t, "./cmd/cassandra-backup-operator", "-ldflags", version.LDFlags(oldVersion, "old"))
	newBin := controlplane.GoBuild(t, "./cmd/cassandra-backup-operator", "-ldflags", version.LDFlags(newVersion, "new"))

	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	var nodes []*node
	for i, rack := range []string{"a", "b", "c"} {
		nodes = append(nodes, e.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(20+i), 2_000_000))
	}
	for _, n := range nodes {
		v, err := e.agents.Version(context.Background(), n.url())
		if err != nil || v != version.OldestAgent {
			t.Fatalf("agent of %s: version %q, %v; want %s (names none)", n.name, v, err, version.OldestAgent)
		}
		if err := version.CheckAgent(newVersion, v); err != nil {
			t.Fatalf("the new operator would refuse the running agents: %v", err)
		}
	}

	old := e.startOperatorBinary(oldBin, oldVersion)
	e.create("upgrade", slowSpec("dc1", "upgrade-1"))
	e.waitFor("upgrade", "RUNNING on every node", running)
	old.Stop()
	mid := e.get("upgrade")
	if mid.Status.State != v1alpha1.BackupRunning {
		t.Fatalf("the backup is %s when the old operator stopped, want RUNNING: make it slower", mid.Status.State)
	}

	e.startOperatorBinary(newBin, newVersion)
	sameOperations(t, nodes, mid, e.waitFor("upgrade", "COMPLETED", completed))
}

// sameOperations checks that every node was sent exactly one operation, and that the
// backup ended with the operation each node had at mid.
func sameOperations(t *testing.T, nodes []*node, mid, end *v1alpha1.CassandraBackup) {
	t.Helper()
	for i, n := range nodes {
		if got := n.posts.Load(); got != 1 {
			t.Errorf("node %s: %d operations submitted, want exactly 1", n.name, got)
		}
		if end.Status.Nodes[i].Attempts != 1 || end.Status.Nodes[i].OperationID != mid.Status.Nodes[i].OperationID {
			t.Errorf("node %s: %+v, midway %+v", n.name, end.Status.Nodes[i], mid.Status.Nodes[i])
		}
	}
}

// startOperatorBinary runs an operator binary over the env's namespace (controllers only:
// no webhook, no health endpoint) and waits until its /metrics says it is version v.
func (e *env) startOperatorBinary(bin, v string) *controlplane.Process {
	e.t.Helper()
	metrics := controlplane.FreeAddr(e.t)
	p := controlplane.Run(e.t, bin, "--kubeconfig="+e.cp.KubeconfigPath, "--namespace="+e.ns,
		"--agent-service-account="+e.ns+"/"+controlplane.OperatorAccount,
		"--metrics-bind-address="+metrics, "--health-probe-bind-address=0", "--webhook-port=0")
	for deadline := time.Now().Add(deadline); ; time.Sleep(100 * time.Millisecond) {
		if got := controlplane.ScrapeBuildInfo(metrics)["version"]; got == v {
			return p
		}
		if p.Exited() || time.Now().After(deadline) {
			e.t.Fatalf("operator %s did not serve build_info version %s: %s", bin, v, p.LogTail())
		}
	}
}

// TestAgentVersionSkew runs a real agent binary of release v0.1.0 beside a fake node and
// operators of releases it is outside the window of: an operator two minor versions
// ahead, and one older than the agent. Each backup stops before any node is recorded or
// submitted, with a Synced condition naming the node, the agent's version and the range
// the operator drives.
func TestAgentVersionSkew(t *testing.T) {
	const agentVersion = "v0.1.0"
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-agent", "-ldflags", version.LDFlags(agentVersion, "old"))
	for _, tt := range []struct{ name, operator, supported, why string }{
		{"agent too old", "v0.3.0", "v0.2.x to v0.3.x", "older than the operator"},
		{"agent newer", "v0.0.9", "v0.0.x", "newer than the operator"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, s3Server(t))
			e.secret(secretName, nil)
			fake := fakecassandra.New(t, fakecassandra.Config{ClusterName: cluster, Datacenter: "dc1", Rack: "a", Seed: 80, NumTokens: 4})
			addr := controlplane.FreeAddr(t)
			controlplane.Run(t, bin, "serve", "--insecure-skip-auth", "--listen="+addr, "--jolokia-url="+fake.URL(), "--hostname=dc1-a-0")
			url := "http://" + addr
			for end := time.Now().Add(deadline); ; time.Sleep(100 * time.Millisecond) {
				v, err := (&client.Client{}).Version(context.Background(), url)
				if err == nil && v == agentVersion {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("agent at %s: version %q, %v; want %s", url, v, err, agentVersion)
				}
			}
			host, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			e.createPod("dc1-a-0", "dc1", "a", host, p, jolokiaPort(fake))
			e.startOperator(backup.Options{Version: tt.operator})
			e.create("skew", spec("dc1", "skew-1"))
			b := e.syncedFalse("skew", backup.ReasonAgentVersionUnsupported, "dc1-a-0", agentVersion, tt.operator, tt.supported, tt.why)
			if b.Status.Snapshot != "" || len(b.Status.Nodes) != 0 {
				t.Errorf("the backup went on: %+v", b.Status)
			}
			ops, err := (&client.Client{}).List(context.Background(), url, "")
			if err != nil || len(ops) != 0 {
				t.Errorf("operations on the agent: %v, %v; want none", ops, err)
			}
		})
	}
}
