package tablerestore

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// DefaultAgentUnreachableTimeout is how long a node's agent may stay unreachable (no pod
// address, or no answer) before the node is FAILED with AgentUnreachable.
const DefaultAgentUnreachableTimeout = 5 * time.Minute

// maxUnreachableBackoff bounds the wait between two tries of an unreachable agent.
const maxUnreachableBackoff = 30 * time.Second

// ReasonAgentUnreachable: a node's agent could not be reached within the agent timeout; the
// node is FAILED and listed among the nodes to retry.
const ReasonAgentUnreachable = "AgentUnreachable"

// unreachable records that the node's agent could not be reached and returns how soon to
// try again: the wait doubles with the time it has been unreachable (from the poll interval
// up to maxUnreachableBackoff, never past the timeout). Past the timeout the node is FAILED
// with AgentUnreachable. The first failure's time is kept in memory: an operator restart
// starts the wait over.
func (c *Controller) unreachable(r *v1alpha1.CassandraRestore, n *v1alpha1.NodeTableRestoreStatus, err error) time.Duration {
	now := c.cfg.Now()
	elapsed := c.unreachableFor(r, n.Node)
	if elapsed >= c.cfg.AgentUnreachableTimeout {
		c.forget(r, n.Node)
		n.State = v1alpha1.TableRestoreFailed
		n.Message = fmt.Sprintf("%s: the agent could not be reached for %s: %v", ReasonAgentUnreachable, elapsed.Truncate(time.Second), err)
		t := metav1.NewTime(now.Truncate(time.Second))
		n.CompletionTime = &t
		return 0
	}
	n.Message = fmt.Sprintf("agent unreachable for %s (FAILED after %s): %v", elapsed.Truncate(time.Second), c.cfg.AgentUnreachableTimeout, err)
	return backoff(elapsed, c.cfg.PollInterval, c.cfg.AgentUnreachableTimeout-elapsed)
}

// unreachableFor records that node's agent could not be reached and returns for how long
// it has not been.
func (c *Controller) unreachableFor(r *v1alpha1.CassandraRestore, node string) time.Duration {
	now := c.cfg.Now()
	key := string(r.UID) + "/" + node
	c.mu.Lock()
	defer c.mu.Unlock()
	since, ok := c.unreached[key]
	if !ok {
		since = now
		c.unreached[key] = now
	}
	return now.Sub(since)
}

// forget forgets the node's unreachable time: its agent answered, or the node failed.
func (c *Controller) forget(r *v1alpha1.CassandraRestore, node string) {
	c.mu.Lock()
	delete(c.unreached, string(r.UID)+"/"+node)
	c.mu.Unlock()
}

// identityFailed is the error of the mapping when a node's agent does not tell its
// identity: retried with backoff until the agent timeout, then the restore is refused
// with AgentUnreachable (spec.retry starts it over).
func (c *Controller) identityFailed(r *v1alpha1.CassandraRestore, node string, err error) error {
	elapsed := c.unreachableFor(r, node)
	if elapsed >= c.cfg.AgentUnreachableTimeout {
		c.forget(r, node)
		return c.refuse(r, ReasonAgentUnreachable, "the agent of node %s could not be reached for %s: %v; nothing was restored; raise spec.retry to try again",
			node, elapsed.Truncate(time.Second), err)
	}
	delay := backoff(elapsed, c.cfg.PollInterval, c.cfg.AgentUnreachableTimeout-elapsed)
	return reconciler.Temporary(reconciler.WithReason(ReasonAgentUnreachable, fmt.Errorf("identity of node %s (unreachable for %s): %w", node, elapsed.Truncate(time.Second), err)), delay)
}

// backoff is the wait after an agent has been unreachable for elapsed: elapsed itself (so
// the waits double), at least poll, at most maxUnreachableBackoff and left (the time to the
// timeout, so the node fails on time).
func backoff(elapsed, poll, left time.Duration) time.Duration {
	d := min(max(elapsed, poll), maxUnreachableBackoff)
	return max(min(d, left), time.Millisecond)
}

// unreachableFailure reports whether a node failed because its agent was unreachable.
func unreachableFailure(n v1alpha1.NodeTableRestoreStatus) bool {
	return strings.HasPrefix(n.Message, ReasonAgentUnreachable+": ")
}

// failureReason is the Ready reason of a restore that failed: SchemaMismatch when a node's
// check found a schema difference, else AgentUnreachable when every failed node's agent
// was unreachable, else CheckFailed before the import phase and Failed in it.
func failureReason(st *v1alpha1.CassandraRestoreStatus) string {
	unreachable := true
	for _, n := range st.Nodes {
		if n.State != v1alpha1.TableRestoreFailed {
			continue
		}
		if strings.HasPrefix(n.Message, api.SchemaMismatchPrefix) {
			return ReasonSchemaMismatch
		}
		unreachable = unreachable && unreachableFailure(n)
	}
	switch {
	case unreachable:
		return ReasonAgentUnreachable
	case st.Phase != v1alpha1.TableRestoreImport:
		return ReasonCheckFailed
	}
	return ReasonFailed
}
