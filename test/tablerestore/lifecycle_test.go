package tablerestore_test

import (
	"slices"
	"sync"
	"testing"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
)

// TestRestoreFailedNodeRetry: one node's import fails; the others keep theirs and the
// restore is FAILED listing that node; spec.retry runs it, and only it, again.
func TestRestoreFailedNodeRetry(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	e.backup("bk")
	var mu sync.Mutex
	failing := true
	e.nodes[2].fake.SetHook(func(req jolokia.Request) error {
		mu.Lock()
		defer mu.Unlock()
		if failing && req.Operation == jolokia.OpImportNewSSTables {
			return errImport
		}
		return nil
	})
	e.restore("r", "bk", nil)
	r := e.waitFor("r", "FAILED", state(v1alpha1.TableRestoreFailed))
	if !slices.Equal(r.Status.FailedNodes, []string{e.nodes[2].name}) {
		t.Fatalf("failed nodes %v", r.Status.FailedNodes)
	}
	for i, n := range r.Status.Nodes {
		want := v1alpha1.TableRestoreCompleted
		if i == 2 {
			want = v1alpha1.TableRestoreFailed
		}
		if n.State != want {
			t.Errorf("node %s %s, want %s (%s)", n.Node, n.State, want, n.Message)
		}
	}
	posts := []int32{e.nodes[0].posts.Load(), e.nodes[1].posts.Load(), e.nodes[2].posts.Load()}
	imports := []int{e.nodes[0].fake.Calls("importNewSSTables"), e.nodes[1].fake.Calls("importNewSSTables")}
	mu.Lock()
	failing = false
	mu.Unlock()
	e.update("r", func(s *v1alpha1.CassandraRestoreSpec) { s.Retry = 1 })
	r = e.waitFor("r", "COMPLETED after the retry", state(v1alpha1.TableRestoreCompleted))
	for i := range 2 {
		if e.nodes[i].posts.Load() != posts[i] || e.nodes[i].fake.Calls("importNewSSTables") != imports[i] {
			t.Errorf("node %d ran again on retry", i)
		}
	}
	if got := e.nodes[2].posts.Load(); got != posts[2]+1 {
		t.Errorf("failed node: %d submissions on retry, want 1", got-posts[2])
	}
	if r.Status.Nodes[2].Attempts != 2 || len(r.Status.FailedNodes) != 0 {
		t.Errorf("after retry: attempts %d, failed %v", r.Status.Nodes[2].Attempts, r.Status.FailedNodes)
	}
}

// blockImports holds the imports of the given nodes until release is called.
func (e *env) blockImports(nodes ...int) (release func()) {
	ch := make(chan struct{})
	for _, i := range nodes {
		e.nodes[i].fake.SetHook(func(req jolokia.Request) error {
			if req.Operation == jolokia.OpImportNewSSTables {
				<-ch
			}
			return nil
		})
	}
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	e.t.Cleanup(release)
	return release
}

// importing reports whether the restore's nodes idx all run their import.
func importing(idx ...int) func(*v1alpha1.CassandraRestore) bool {
	return func(r *v1alpha1.CassandraRestore) bool {
		for _, i := range idx {
			if len(r.Status.Nodes) <= i || r.Status.Nodes[i].Phase != v1alpha1.TableRestoreImport || r.Status.Nodes[i].State != v1alpha1.TableRestoreRunning {
				return false
			}
		}
		return true
	}
}

// TestRestoreCancel: spec.cancel while one node's import hangs stops that node; the
// nodes that finished keep their import, and status says which.
func TestRestoreCancel(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	e.backup("bk")
	release := e.blockImports(1)
	e.restore("r", "bk", nil)
	e.waitFor("r", "nodes 0 and 2 done, node 1 importing", func(r *v1alpha1.CassandraRestore) bool {
		return importing(1)(r) && r.Status.Nodes[0].State == v1alpha1.TableRestoreCompleted && r.Status.Nodes[2].State == v1alpha1.TableRestoreCompleted
	})
	e.update("r", func(s *v1alpha1.CassandraRestoreSpec) { s.Cancel = true })
	r := e.waitFor("r", "CANCELLED", state(v1alpha1.TableRestoreCancelled))
	release()
	want := []v1alpha1.TableRestoreState{v1alpha1.TableRestoreCompleted, v1alpha1.TableRestoreCancelled, v1alpha1.TableRestoreCompleted}
	for i, n := range r.Status.Nodes {
		if n.State != want[i] {
			t.Errorf("node %s: %s, want %s", n.Node, n.State, want[i])
		}
	}
	c := ready(r)
	if c.Reason != "Cancelled" || c.Message == "" {
		t.Errorf("Ready %+v", c)
	}
	t.Logf("Ready: %s", c.Message)
}

// TestRestoreOperatorRestart: the operator stops while every node imports; a new one
// takes over from status, and each node ran each phase exactly once.
func TestRestoreOperatorRestart(t *testing.T) {
	e := newEnv(t)
	op := e.startOperator()
	e.backup("bk")
	release := e.blockImports(0, 1, 2)
	e.restore("r", "bk", nil)
	e.waitFor("r", "every node importing", importing(0, 1, 2))
	op.stop()
	e.startOperator()
	release()
	e.waitFor("r", "COMPLETED", state(v1alpha1.TableRestoreCompleted))
	for i, n := range e.nodes {
		if got := n.posts.Load(); got != 1+2 { // backup, CHECK, IMPORT
			t.Errorf("node %d: %d operations submitted, want 3", i, got)
		}
		if c := n.fake.Calls("importNewSSTables"); c != 1 {
			t.Errorf("node %d: %d imports", i, c)
		}
	}
}

// TestRestoreAgentRestart: an agent restarts during its node's import (the operation is
// lost); the operator submits it again under the same key and the restore completes.
func TestRestoreAgentRestart(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	e.backup("bk")
	release := e.blockImports(0)
	e.restore("r", "bk", nil)
	e.waitFor("r", "node 0 importing", importing(0))
	e.nodes[0].restart()
	release()
	r := e.waitFor("r", "COMPLETED", state(v1alpha1.TableRestoreCompleted))
	if r.Status.Nodes[0].Attempts != 1 {
		t.Errorf("attempts %d: an agent restart is no attempt", r.Status.Nodes[0].Attempts)
	}
}
