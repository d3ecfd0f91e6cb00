package tablerestore_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/tablerestore"
)

// agentTimeout is the agent timeout of these tests.
const agentTimeout = 3 * time.Second

// TestRestoreAgentUnreachable: a node whose agent stops in the middle of its CHECK fails
// with AgentUnreachable once the agent timeout has passed, listed among the nodes to
// retry, while the others completed the phase and nothing was imported anywhere; with
// the agent back, spec.retry runs that node again and the restore completes.
func TestRestoreAgentUnreachable(t *testing.T) {
	e := newEnv(t)
	e.startOperatorWith(func(o *tablerestore.Options) { o.AgentUnreachableTimeout = agentTimeout })
	e.backup("bk")
	down := e.nodes[1]
	// The CHECK's probe snapshot waits until the agent is gone.
	inCheck, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	down.fake.SetHook(func(req jolokia.Request) error {
		if strings.HasPrefix(req.Operation, "takeSnapshot") {
			once.Do(func() { close(inCheck); <-release })
		}
		return nil
	})
	e.restore("r", "bk", nil)
	<-inCheck
	stopped := make(chan struct{})
	go func() { down.stop(); close(stopped) }()
	e.waitFor("r", "the operator sees the agent unreachable", func(r *v1alpha1.CassandraRestore) bool {
		return len(r.Status.Nodes) == 3 && strings.HasPrefix(r.Status.Nodes[1].Message, "agent unreachable for")
	})
	close(release)
	<-stopped
	r := e.waitFor("r", "FAILED", state(v1alpha1.TableRestoreFailed))
	c := ready(r)
	if c.Reason != tablerestore.ReasonAgentUnreachable || !strings.Contains(c.Message, down.name) {
		t.Errorf("Ready %+v", c)
	}
	if !slices.Equal(r.Status.FailedNodes, []string{down.name}) || r.Status.Phase != v1alpha1.TableRestoreCheck {
		t.Errorf("failed nodes %v in phase %s", r.Status.FailedNodes, r.Status.Phase)
	}
	for _, n := range r.Status.Nodes {
		if n.Node == down.name && (n.State != v1alpha1.TableRestoreFailed || !strings.HasPrefix(n.Message, tablerestore.ReasonAgentUnreachable+": ")) {
			t.Errorf("unreachable node %+v", n)
		}
		if n.Node != down.name && n.State != v1alpha1.TableRestoreCompleted {
			t.Errorf("reachable node %+v", n)
		}
	}
	e.retryUntilCompleted("r", down, 1)
}

// TestRestoreAgentUnreachableAtStart: an agent that does not answer when the restore maps
// the nodes refuses the restore with AgentUnreachable after the agent timeout, nothing
// mapped or submitted; with the agent back, spec.retry starts the restore over.
func TestRestoreAgentUnreachableAtStart(t *testing.T) {
	e := newEnv(t)
	e.startOperatorWith(func(o *tablerestore.Options) { o.AgentUnreachableTimeout = agentTimeout })
	e.backup("bk")
	down := e.nodes[2]
	down.stop()
	start := time.Now()
	e.restore("r", "bk", nil)
	r := e.waitFor("r", "FAILED", state(v1alpha1.TableRestoreFailed))
	if c := ready(r); c.Reason != tablerestore.ReasonAgentUnreachable || !strings.Contains(c.Message, down.name) || len(r.Status.Nodes) != 0 {
		t.Errorf("Ready %+v, nodes %+v", c, r.Status.Nodes)
	}
	if waited := time.Since(start); waited < agentTimeout {
		t.Errorf("refused after %s, before the agent timeout", waited)
	}
	e.retryUntilCompleted("r", down, 1)
}

// retryUntilCompleted restarts the stopped agent of down, raises spec.retry and waits
// for the restore to complete with every node's import done once.
func (e *env) retryUntilCompleted(name string, down *node, retry int32) {
	e.t.Helper()
	down.fake.SetHook(nil)
	down.restart()
	e.update(name, func(s *v1alpha1.CassandraRestoreSpec) { s.Retry = retry })
	e.waitFor(name, "COMPLETED after the retry", state(v1alpha1.TableRestoreCompleted))
	for i, n := range e.nodes {
		if got := n.fake.Calls("importNewSSTables"); got != 1 {
			e.t.Errorf("node %d imported %d times", i, got)
		}
	}
}
