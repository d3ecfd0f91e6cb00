package restore

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
)

// The restore's live progress. A pod's restore init container runs before its Cassandra
// and agent containers, so the pod's status says only that it runs; but the init
// container serves its counts on the agent's port (agent.RestoreStatus: GET /operations,
// authenticated as the agent's API). While pods restore, at most every
// progress.StatusInterval per datacenter, the controller reads each RUNNING pod's counts
// there, feeds the pod's Meter (in memory), and writes bytes, files, rate and ETA into
// status.restore.nodes[] and the whole restore's size, rate and ETA. A pod that cannot be
// read keeps the counts it had.

// pollTimeout bounds one read of a pod's progress.
const pollTimeout = 3 * time.Second

// measure fills the progress of st's nodes: read from the pods when due, else as they
// were in before. A node that ended has no rate or ETA; a completed one that was measured
// has all its bytes done.
func (c *Controller) measure(ctx context.Context, dc *v1alpha1.CassandraDataCenter, before *v1alpha1.RestoreStatus, st *v1alpha1.RestoreStatus) {
	key := string(dc.UID)
	now := c.opts.now()
	// Meters and writes of restores whose datacenter went away mid-way go once stale.
	c.meters.Sweep(now)
	c.gate.Sweep(now)
	var times []*metav1.Time
	for _, n := range before.Nodes {
		times = append(times, n.ProgressTime)
	}
	due := c.gate.Due(key, now, progress.Newest(times...))
	counts := map[string]api.Transfer{}
	if due {
		counts = c.poll(ctx, dc, st.Nodes)
	}
	for i := range st.Nodes {
		n := &st.Nodes[i]
		mkey := key + "/" + n.Pod
		t, read := counts[n.Pod]
		switch {
		case n.State == v1alpha1.RestoreCompleted:
			c.meters.Forget(mkey)
			if n.BytesTotal > 0 {
				n.BytesDone, n.FilesDone = n.BytesTotal, n.FilesTotal
			}
			n.TransferRate = v1alpha1.TransferRate{ProgressTime: n.ProgressTime}
		case n.State != v1alpha1.RestoreRunning:
			c.meters.Forget(mkey)
			n.TransferRate = v1alpha1.TransferRate{ProgressTime: n.ProgressTime}
		case read:
			n.NodeRestoreProgress = v1alpha1.NodeRestoreProgress{BytesTotal: t.BytesTotal, BytesDone: t.BytesTransferred + t.BytesSkipped,
				FilesTotal: int64(t.FilesTotal), FilesDone: int64(t.FilesTransferred + t.FilesSkipped)}
			n.TransferRate = progress.Rate(c.meters.Observe(mkey, now, n.BytesDone, n.BytesTotal), now)
		}
	}
	reports := make([]progress.Report, 0, len(st.Nodes))
	for _, n := range st.Nodes {
		reports = append(reports, progress.FromStatus(n.BytesDone, n.BytesTotal, n.TransferRate))
	}
	st.ProgressSummary = progress.Summary(progress.Sum(reports...))
	if due && !equality.Semantic.DeepEqual(st, before) {
		c.gate.Wrote(key, now)
	}
	if st.State == v1alpha1.RestoreCompleted || st.State == v1alpha1.RestoreFailed {
		c.gate.Forget(key)
	}
}

// poll reads the counts of the RUNNING pods' restores, at most 16 at a time; a pod that
// cannot be read is left out.
func (c *Controller) poll(ctx context.Context, dc *v1alpha1.CassandraDataCenter, nodes []v1alpha1.NodeRestoreStatus) map[string]api.Transfer {
	logger := klog.FromContext(ctx)
	agents := c.agents.For(dc.Namespace)
	results := make([]*api.Transfer, len(nodes))
	var g errgroup.Group
	g.SetLimit(16)
	for i, n := range nodes {
		if n.State != v1alpha1.RestoreRunning {
			continue
		}
		pod, err := c.pods.Pods(dc.Namespace).Get(n.Pod)
		if err != nil {
			continue
		}
		base, err := plan.AgentAddress(pod, plan.AgentPortName, plan.DefaultAgentPort, "")
		if err != nil {
			continue
		}
		g.Go(func() error {
			pctx, cancel := context.WithTimeout(ctx, pollTimeout)
			defer cancel()
			ops, err := agents.List(pctx, base, api.TypeRestore)
			if err != nil {
				logger.V(2).Info("Cannot read a pod's restore progress", "pod", n.Pod, "err", err)
				return nil
			}
			for _, op := range ops {
				if op.State == api.StateRunning {
					t := op.Transfer
					results[i] = &t
				}
			}
			return nil
		})
	}
	g.Wait()
	out := map[string]api.Transfer{}
	for i, t := range results {
		if t != nil {
			out[nodes[i].Pod] = *t
		}
	}
	return out
}
