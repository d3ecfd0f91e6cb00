package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

// What start checks before it records anything: each node's identity as its agent
// reports it, the agent's version, and the CassandraDataCenter spec.cdc names.

// identify asks every pod's agent who its node is, before anything is uploaded: the
// nodes' own cluster and datacenter names must be the spec's, since the backup is stored
// under the spec's names and a restore looks for it there; and every agent's version must
// be one this operator drives (version.CheckAgent), else no node is driven at all.
func (c *Controller) identify(ctx context.Context, b *v1alpha1.CassandraBackup, pods []*corev1.Pod) ([]v1alpha1.NodeBackupStatus, error) {
	nodes := make([]v1alpha1.NodeBackupStatus, 0, len(pods))
	var mismatches, skewed []string
	for _, pod := range pods {
		id, err := c.ext.Identify(ctx, pod)
		switch {
		case errors.Is(err, client.ErrNoIdentity):
			return nil, reconciler.Reasonf(ReasonAgentWithoutIdentity, "node %s: %v; run the cassandra-backup-agent sidecar (see the README's upgrade notes)", pod.Name, err)
		case err != nil:
			return nil, &identifyError{pod: pod.Name, err: err}
		}
		agent := id.AgentVersion
		if agent == "" {
			agent = version.OldestAgent
		}
		if err := version.CheckAgent(c.cfg.Version, agent); err != nil {
			skewed = append(skewed, fmt.Sprintf("node %s: %v", pod.Name, err))
		}
		if id.Cluster != b.Spec.Cluster || id.Datacenter != b.Spec.Datacenter {
			mismatches = append(mismatches, fmt.Sprintf("node %s reports cluster %q, datacenter %q", pod.Name, id.Cluster, id.Datacenter))
		}
		rack := id.Rack
		if rack == "" {
			rack = c.rackOf(pod)
		}
		nodes = append(nodes, v1alpha1.NodeBackupStatus{Node: pod.Name, Rack: rack, HostID: id.HostID,
			State: v1alpha1.BackupPending, Progress: "0%"})
	}
	if len(skewed) > 0 {
		return nil, reconciler.Reasonf(ReasonAgentVersionUnsupported,
			"operator %s drives agents %s; %s; nothing was submitted",
			c.cfg.Version, version.SupportedAgents(c.cfg.Version), strings.Join(skewed, "; "))
	}
	if len(mismatches) > 0 {
		return nil, reconciler.Reasonf(ReasonClusterNameMismatch,
			"spec.cluster %q, spec.datacenter %q disagree with the nodes: %s; nothing was uploaded: fix spec.cluster and spec.datacenter (a backup is stored and restored under the names the nodes report)",
			b.Spec.Cluster, b.Spec.Datacenter, strings.Join(mismatches, "; "))
	}
	return nodes, nil
}

// identifyError is a node whose agent could not tell its identity (unreachable, or its
// node control failing).
type identifyError struct {
	pod string
	err error
}

func (e *identifyError) Error() string {
	return fmt.Sprintf("identity of node %s: %v", e.pod, e.err)
}

func (e *identifyError) Unwrap() error { return e.err }

// giveUp fails a backup that could not start within its timeout because a node's agent
// could not tell the node's identity; the other nodes are recorded as not started.
func (c *Controller) giveUp(ctx context.Context, b *v1alpha1.CassandraBackup, pods []*corev1.Pod, e *identifyError, now time.Time) {
	end := metav1.NewTime(now.Truncate(time.Second))
	st := &b.Status
	st.Nodes = nil
	for _, pod := range pods {
		n := v1alpha1.NodeBackupStatus{Node: pod.Name, Rack: c.rackOf(pod), Progress: "0%", State: v1alpha1.BackupCancelled,
			Message: "not started: the agent of node " + e.pod + " could not be reached", CompletionTime: &end}
		if pod.Name == e.pod {
			n.State = v1alpha1.BackupFailed
			n.Message = fmt.Sprintf("agent unreachable: %s; gave up at the backup's timeout of %s", stableError(e.err), timeout(b))
		}
		st.Nodes = append(st.Nodes, n)
	}
	st.State = v1alpha1.BackupFailed
	st.Progress = "0%"
	st.CompletionTime = &end
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonBackupFailed,
		fmt.Sprintf("not started within the backup's timeout of %s: %v", timeout(b), e), b.Generation))
	klog.FromContext(ctx).Info("Backup failed before it started", "err", e)
}

// checkCDC checks the CassandraDataCenter spec.cdc names: when it exists, its cluster and
// datacenter (when it records them) must be the backup's. found is false when it does
// not exist: the backup goes by pod labels alone.
func (c *Controller) checkCDC(b *v1alpha1.CassandraBackup) (found bool, err error) {
	if b.Spec.CDC == "" {
		return false, nil
	}
	if c.dcsSynced != nil && !c.dcsSynced() {
		return false, fmt.Errorf("waiting for the CassandraDataCenter cache to sync")
	}
	cdc, err := c.dcs.CassandraDataCenters(b.Namespace).Get(b.Spec.CDC)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get CassandraDataCenter %s: %w", b.Spec.CDC, err)
	}
	if (cdc.Spec.Cluster != "" && cdc.Spec.Cluster != b.Spec.Cluster) || (cdc.Spec.Datacenter != "" && cdc.Spec.Datacenter != b.Spec.Datacenter) {
		return true, reconciler.Reasonf(ReasonDataCenterMismatch,
			"CassandraDataCenter %s is cluster %q, datacenter %q; the backup's spec.cluster is %q, spec.datacenter %q: fix the backup's spec (or spec.cdc)",
			cdc.Name, cdc.Spec.Cluster, cdc.Spec.Datacenter, b.Spec.Cluster, b.Spec.Datacenter)
	}
	return true, nil
}
