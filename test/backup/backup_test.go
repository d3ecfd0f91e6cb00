package backup_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

// TestThreeNodeBackup backs up a 3-node datacenter as the guide does and checks the
// status, kubectl's output, the bucket and that no secret leaks.
func TestThreeNodeBackup(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	nodes := []*node{
		e.startNode("cassandra-test-dc-cassandra-west1-a-0", "dc1", "west1-a", 1, 200_000),
		e.startNode("cassandra-test-dc-cassandra-west1-b-0", "dc1", "west1-b", 2, 150_000),
		e.startNode("cassandra-test-dc-cassandra-west1-c-0", "dc1", "west1-c", 3, 100_000),
	}
	e.startOperator(backup.Options{})
	e.create("test-cassandra-backup", spec("dc1", "mySnapshotTag"))

	b := e.waitFor("test-cassandra-backup", "COMPLETED", completed)
	if b.Status.Progress != "100%" || b.Status.Snapshot != "mySnapshotTag" || len(b.Status.Nodes) != 3 {
		t.Fatalf("status: %+v", b.Status)
	}
	if c := condition(b, "Ready"); c == nil || c.Status != "True" {
		t.Fatalf("Ready: %+v", c)
	}
	if c := condition(b, "Synced"); c == nil || c.Status != "True" {
		t.Fatalf("Synced: %+v", c)
	}
	for i, n := range b.Status.Nodes {
		if n.Node != nodes[i].name || n.State != v1alpha1.BackupCompleted || n.Progress != "100%" ||
			n.HostID != nodes[i].fake.HostID() || n.BytesTotal == 0 || n.BytesUploaded != n.BytesTotal ||
			n.OperationID == "" || n.Attempts != 1 || n.Rack == "" {
			t.Errorf("node %d: %+v", i, n)
		}
		if got := nodes[i].posts.Load(); got != 1 {
			t.Errorf("node %s: %d operations submitted, want 1", n.Node, got)
		}
	}
	if keys := e.bucketKeys("topology/" + cluster + "-mySnapshotTag-"); len(keys) != 1 {
		t.Errorf("topology files: %v", keys)
	}
	for _, n := range nodes {
		if keys := e.bucketKeys(cluster + "/dc1/" + n.fake.HostID() + "/manifests/mySnapshotTag-"); len(keys) != 1 {
			t.Errorf("manifests of %s: %v", n.name, keys)
		}
	}

	out, err := e.cp.Kubectl(e.ctx(), nil, "get", "cassandrabackups.cassandraoperator.instaclustr.com", "-n", e.ns)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0])[:3], " ") != "NAME STATUS PROGRESS" ||
		strings.Join(strings.Fields(lines[1])[:3], " ") != "test-cassandra-backup COMPLETED 100%" {
		t.Errorf("kubectl get:\n%s", out)
	}
	out, err = e.cp.Kubectl(e.ctx(), nil, "describe", "cassandrabackups.cassandraoperator.instaclustr.com", "-n", e.ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		i := strings.Index(out, "Node:  "+n.name)
		if i < 0 {
			i = strings.Index(out, n.name)
		}
		if i < 0 {
			t.Fatalf("kubectl describe does not show node %s:\n%s", n.name, out)
		}
	}
	for _, want := range []string{"Progress:", "100%", "State:", "COMPLETED"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl describe lacks %q:\n%s", want, out)
		}
	}
	t.Logf("kubectl get:\n%s", strings.Join(lines, "\n"))
	noForeignJolokia(t, nodes...)
	e.noSecretIn("test-cassandra-backup")

	// At steady state the operator writes nothing more.
	before := e.writes.Load()
	e.waitFor("test-cassandra-backup", "still COMPLETED", completed)
	if after := e.writes.Load(); after != before {
		t.Errorf("%d API writes at steady state", after-before)
	}
}

// TestJolokiaOnlyInsidePod runs on the pod network (CASSBACKUP_PODNET=1): each node's
// Jolokia listens on its pod's own 127.0.0.1, as the sample StatefulSet binds it, so the
// host side, where the operator runs, gets "connection refused" at the pod's address;
// the backup must complete all the same. It fails until the operator takes a node's
// identity from its agent instead of Jolokia (issue 20).
func TestJolokiaOnlyInsidePod(t *testing.T) {
	if !podnet.Enabled() {
		t.Skipf("runs on the pod network only: %s=1", podnet.EnvVar)
	}
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	nodes := []*node{
		e.startNode("cassandra-test-dc-cassandra-west1-a-0", "dc1", "west1-a", 1, 20_000),
		e.startNode("cassandra-test-dc-cassandra-west1-b-0", "dc1", "west1-b", 2, 20_000),
	}
	for _, n := range nodes {
		addr := net.JoinHostPort(n.ip, strconv.Itoa(jolokiaPodPort))
		if c, err := net.DialTimeout("tcp", addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("Jolokia of %s at %s from the host side: %v, want connection refused", n.name, addr, err)
		}
		if _, err := n.jolokia().HostID(e.ctx()); err != nil {
			t.Fatalf("Jolokia of %s from inside its pod: %v", n.name, err)
		}
	}
	e.startOperator(backup.Options{})
	e.create("inside-only", spec("dc1", "inside-only"))
	b := e.waitFor("inside-only", "COMPLETED", completed)
	for i, n := range b.Status.Nodes {
		if n.HostID != nodes[i].fake.HostID() {
			t.Errorf("node %s: host id %q, want %s", n.Node, n.HostID, nodes[i].fake.HostID())
		}
	}
}
