package tablerestore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/tablerestore"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

const clone = "clone-cluster"

// startClone starts a 3-node datacenter dc1 of cluster clone, one node per rack of the
// source, with host ids of its own and the tokens tokens(i) gives node i; its tables have
// the source's ids (a clone made from the backup's schema).
func (e *env) startClone(tokens func(i int) []string) []*node {
	e.t.Helper()
	var out []*node
	for i := range e.nodes {
		cfg := fakecassandra.Config{ClusterName: clone, Datacenter: dc, Rack: fmt.Sprintf("rack%d", i+1), Seed: uint64(i + 1),
			HostID: uuid.NewString(), Tokens: tokens(i)}
		out = append(out, e.startNodeWith(fmt.Sprintf("%s-%s-rack%d-0", clone, dc, i+1), cfg))
	}
	return out
}

// TestRestoreIntoAnotherCluster restores the table into another cluster whose ring is the
// source's: nodes are paired by rack and ordinal (not host id), each imports its source
// node's SSTables, and the source cluster is not touched.
func TestRestoreIntoAnotherCluster(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	e.backup("bk")
	targets := e.startClone(func(i int) []string { return e.nodes[i].fake.Tokens() })
	e.restore("r", "bk", func(s *v1alpha1.CassandraRestoreSpec) { s.Cluster = clone })
	r := e.waitFor("r", "COMPLETED", state(v1alpha1.TableRestoreCompleted))
	for i, n := range r.Status.Nodes {
		if n.Node != targets[i].name || n.SourceNode != e.nodes[i].name || n.SourceHostID != e.nodes[i].fake.HostID() {
			t.Errorf("node %d mapped %s ← %s (%s), want %s ← %s", i, n.Node, n.SourceNode, n.SourceHostID, targets[i].name, e.nodes[i].name)
		}
	}
	for i := range e.nodes {
		if got := targets[i].fake.Calls("importNewSSTables"); got != 1 {
			t.Errorf("target %d imported %d times", i, got)
		}
		if got := e.nodes[i].fake.Calls("importNewSSTables"); got != 0 {
			t.Errorf("source node %d imported %d times", i, got)
		}
	}
}

// TestRestoreRefusesTokensMismatch: another cluster whose second node has other tokens
// than the backed-up node of its rack is refused with TokensMismatch, naming the node,
// before any agent is asked to do anything.
func TestRestoreRefusesTokensMismatch(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	e.backup("bk")
	targets := e.startClone(func(i int) []string {
		ts := e.nodes[i].fake.Tokens()
		if i == 1 {
			ts[0] = "12345"
		}
		return ts
	})
	e.restore("r", "bk", func(s *v1alpha1.CassandraRestoreSpec) { s.Cluster = clone })
	r := e.waitFor("r", "FAILED", state(v1alpha1.TableRestoreFailed))
	c := ready(r)
	if c.Reason != tablerestore.ReasonTokensMismatch || !strings.Contains(c.Message, targets[1].name) || strings.Contains(c.Message, targets[0].name) {
		t.Errorf("Ready %+v", c)
	}
	if len(r.Status.Nodes) != 0 {
		t.Errorf("nodes mapped: %+v", r.Status.Nodes)
	}
	for i, n := range targets {
		if got := n.posts.Load(); got != 0 {
			t.Errorf("target %d: %d operations submitted", i, got)
		}
	}
}
