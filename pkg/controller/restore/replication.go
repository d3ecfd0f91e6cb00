package restore

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// The replication rewrite of a renamed datacenter (spec.restore.renameDatacenter). Once a
// restored pod is up and serving, the controller reads the node's keyspaces through the
// pod's agent (which asks the Management API) and rewrites each restored keyspace whose
// NetworkTopologyStrategy names the backup's datacenter to name this one instead, with the
// same factor. It runs once, crash-safe as the backup controller's submissions are: the
// keyspaces to rewrite are recorded in status.restore.replicationChanges (condition
// ReplicationRewritten False, reason Rewriting) before any is altered; a pass after a
// restart reads the live replication again and alters only what still names the old
// datacenter, then sets the condition True. Nothing is kept only in memory.

// TypeReplicationRewritten is the condition of the rewrite: True once every restored
// keyspace's replication names the new datacenter.
const TypeReplicationRewritten = "ReplicationRewritten"

// Reasons of the ReplicationRewritten condition.
const (
	// ReasonWaitingForNode: no restored pod is up and serving yet.
	ReasonWaitingForNode = "WaitingForNode"
	// ReasonRewriting: the keyspaces to rewrite are recorded; they are being altered.
	ReasonRewriting = "Rewriting"
	// ReasonRewritten: done.
	ReasonRewritten = "Rewritten"
)

// keyspaceTimeout bounds the rewrite's calls to one agent.
const keyspaceTimeout = 45 * time.Second

// rewriteReplication advances the rewrite of a renamed restore and returns when to look
// again: 0 when it is done (or not asked for), soon after recording what to rewrite, at
// the idle poll while no pod serves or a call fails (no hot loop on a refusing node).
func (c *Controller) rewriteReplication(ctx context.Context, dc *v1alpha1.CassandraDataCenter, p *plan.Plan, st *v1alpha1.RestoreStatus) time.Duration {
	from, to := p.SourceDatacenter, dc.Spec.Datacenter
	if !p.Restore.RenameDatacenter || from == "" || to == "" || from == to {
		return 0
	}
	cond := meta.FindStatusCondition(st.Conditions, TypeReplicationRewritten)
	if cond != nil && cond.Status == metav1.ConditionTrue {
		return 0
	}
	set := func(ok bool, reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		reconciler.SetCondition(&st.Conditions, metav1.Condition{Type: TypeReplicationRewritten, Status: s, Reason: reason, Message: msg, ObservedGeneration: dc.Generation})
	}
	if prof, err := c.profiles.ForObject(dc.Annotations); err == nil && prof.NodeControl != profile.ManagementAPI {
		if cond == nil || cond.Reason != ReasonManualRewrite {
			msg := manualMsg(prof, p.Entities, from, to)
			set(false, ReasonManualRewrite, msg)
			c.event(dc, corev1.EventTypeWarning, ReasonManualRewrite, msg)
		}
		return 0
	}
	pod, base, ok := c.servingPod(dc, p, st)
	if !ok {
		set(false, ReasonWaitingForNode, fmt.Sprintf("the replication of the restored keyspaces names datacenter %s: it is rewritten to %s once a restored pod is running and ready", from, to))
		return c.opts.IdlePoll
	}
	ctx, cancel := context.WithTimeout(ctx, keyspaceTimeout)
	defer cancel()
	agents := c.agents.For(dc.Namespace)
	live, err := agents.Keyspaces(ctx, base)
	if err != nil {
		set(false, ReasonWaitingForNode, fmt.Sprintf("read the keyspaces of pod %s: %v", pod, err))
		return c.opts.IdlePoll
	}
	repl := map[string]cassandra.Replication{}
	for _, k := range live {
		repl[k.Name] = k.Replication
	}
	entities, _ := cassandra.ParseEntities(p.Entities) // validated when the plan was made
	todo, skipped := rewrites(repl, entities, from, to)
	if recordChanges(st, todo) || (len(todo) > 0 && (cond == nil || cond.Reason != ReasonRewriting)) {
		// Written before any keyspace is altered: a restart finds what was meant.
		set(false, ReasonRewriting, fmt.Sprintf("rewriting the replication of %d keyspaces from datacenter %s to %s through pod %s", len(todo), from, to, pod))
		return c.opts.ActivePoll
	}
	for _, r := range todo {
		if err := agents.AlterReplication(ctx, base, r.keyspace, r.after); err != nil {
			set(false, ReasonRewriting, fmt.Sprintf("alter the replication of keyspace %s through pod %s: %v", r.keyspace, pod, err))
			return c.opts.IdlePoll
		}
		klog.FromContext(ctx).Info("Keyspace replication rewritten", "keyspace", r.keyspace, "from", cassandra.FormatFactors(r.before), "to", cassandra.FormatFactors(r.after))
		c.event(dc, corev1.EventTypeNormal, "ReplicationRewritten", fmt.Sprintf("keyspace %s: replication %s → %s (datacenter %s restored as %s)",
			r.keyspace, cassandra.FormatFactors(r.before), cassandra.FormatFactors(r.after), from, to))
	}
	msg := fmt.Sprintf("no restored keyspace's replication names datacenter %s", from)
	if n := len(st.ReplicationChanges); n > 0 {
		msg = fmt.Sprintf("the replication of %d restored keyspaces names datacenter %s instead of %s (status.restore.replicationChanges); run nodetool repair -full on every node", n, to, from)
	}
	if len(skipped) > 0 {
		msg += "; not rewritten: " + strings.Join(skipped, ", ")
	}
	set(true, ReasonRewritten, msg)
	return 0
}

// recordChanges adds the rewrites not yet listed to st.ReplicationChanges and reports whether it
// added any.
func recordChanges(st *v1alpha1.RestoreStatus, todo []rewrite) bool {
	listed := map[string]bool{}
	for _, ch := range st.ReplicationChanges {
		listed[ch.Keyspace] = true
	}
	added := false
	for _, r := range todo {
		if !listed[r.keyspace] {
			st.ReplicationChanges = append(st.ReplicationChanges, v1alpha1.ReplicationChange{
				Keyspace: r.keyspace, From: cassandra.FormatFactors(r.before), To: cassandra.FormatFactors(r.after)})
			added = true
		}
	}
	return added
}

// servingPod returns the first planned pod (by name) that restored and is running and
// ready, with its agent's address.
func (c *Controller) servingPod(dc *v1alpha1.CassandraDataCenter, p *plan.Plan, st *v1alpha1.RestoreStatus) (string, string, bool) {
	restored := map[string]bool{}
	for _, n := range st.Nodes {
		restored[n.Pod] = n.State == v1alpha1.RestoreCompleted
	}
	for _, name := range p.PodNames() {
		if !restored[name] {
			continue
		}
		pod, err := c.pods.Pods(dc.Namespace).Get(name)
		if err != nil || pod.Status.Phase != corev1.PodRunning || !podReady(pod) {
			continue
		}
		base, err := plan.AgentAddress(pod, plan.AgentPortName, plan.DefaultAgentPort, "")
		if err == nil {
			return name, base, true
		}
	}
	return "", "", false
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
