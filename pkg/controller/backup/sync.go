package backup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// The handlers, in the order they run for a new or changed spec. Each one is done at once
// when it does not apply: a justCreate backup is only observed, any other is started,
// awaited and committed, and a backup in a final state needs nothing more.

// event is what the handlers are called with.
type event = reconciler.Event[*v1alpha1.CassandraBackup]

// observe imports a remote backup (justCreate): COMPLETED when its topology and manifests
// are in the bucket, otherwise a Ready condition that says what is missing and another
// look later.
func (c *Controller) observe(ctx context.Context, ev *event) (reconciler.Result, error) {
	b := ev.Object
	if !b.Spec.JustCreate || final(b.Status.State) {
		return reconciler.Result{}, nil
	}
	st := &b.Status
	obs, err := c.ext.Observe(ctx, b)
	if err != nil {
		return reconciler.Result{}, c.storageUnavailable(err, ev)
	}
	if missing := obs.Missing; missing != "" {
		msg := missing + fmt.Sprintf("; looking again every %s", c.cfg.ImportInterval)
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonRemoteBackupNotFound, msg, b.Generation))
		st.State = v1alpha1.BackupPending
		return reconciler.Result{RequeueAfter: c.cfg.ImportInterval}, nil
	}
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	st.Snapshot = b.Spec.SnapshotTag
	st.Nodes = obs.Nodes
	st.State = v1alpha1.BackupCompleted
	st.Progress = "100%"
	summarize(st)
	st.CompletionTime = &now
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, reconciler.ReasonAvailable,
		fmt.Sprintf("imported the remote backup committed by %s (%d nodes)", obs.Topology, len(obs.Nodes)), b.Generation))
	c.markImportDeletion(b)
	return reconciler.Result{}, nil
}

// start chooses the nodes and the snapshot name and records them before any agent is
// contacted (crash safety: the next pass, or the next operator, knows operations may
// already run); await-nodes submits.
func (c *Controller) start(ctx context.Context, ev *event) (reconciler.Result, error) {
	b := ev.Object
	if b.Spec.JustCreate || b.Status.Snapshot != "" || final(b.Status.State) {
		return reconciler.Result{}, nil
	}
	cdcFound, err := c.checkCDC(b)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(err, c.secretBackoff(ev.Retry))
	}
	pods, lbl, err := c.podsOf(b)
	if err != nil {
		return reconciler.Result{}, err
	}
	if len(pods) == 0 {
		return reconciler.Result{}, reconciler.Temporary(reconciler.Reasonf(ReasonNoPods,
			"no running pod labelled %s=%s, %s=%s in namespace %s: check spec.cluster and spec.datacenter, or wait for the datacenter to start",
			lbl.Cluster, b.Spec.Cluster, lbl.Datacenter, b.Spec.Datacenter, b.Namespace), c.secretBackoff(ev.Retry))
	}
	nodes, err := c.identify(ctx, b, pods)
	var unreachable *identifyError
	switch {
	case errors.As(err, &unreachable) && !b.CreationTimestamp.IsZero():
		// The backup's timeout counts from its creation until it starts.
		deadline := b.CreationTimestamp.Add(timeout(b))
		now := c.cfg.Now()
		if !now.Before(deadline) {
			c.giveUp(ctx, b, pods, unreachable, now)
			return reconciler.Result{}, nil
		}
		return reconciler.Result{}, reconciler.Temporary(err, min(c.secretBackoff(ev.Retry), deadline.Sub(now)+time.Second))
	case err != nil:
		return reconciler.Result{}, reconciler.Temporary(err, c.secretBackoff(ev.Retry))
	}
	if err := c.checkTagUnused(ctx, b, nodes); err != nil {
		if reconciler.ReasonOf(err) == ReasonSnapshotTagInUse {
			return reconciler.Result{}, reconciler.Permanent(err)
		}
		return reconciler.Result{}, c.storageUnavailable(err, ev)
	}
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	st := &b.Status
	st.Snapshot = b.Spec.SnapshotTag
	st.State = v1alpha1.BackupPending
	st.Progress = "0%"
	st.Nodes = nodes
	st.StartTime = &now
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, reconciler.ReasonCreating,
		fmt.Sprintf("backing up snapshot %s of %d nodes", st.Snapshot, len(nodes)), b.Generation))
	klog.FromContext(ctx).Info("Backup started", "snapshot", st.Snapshot, "nodes", len(nodes))
	if !cdcFound && c.recorder != nil {
		c.recorder.Eventf(b, corev1.EventTypeNormal, ReasonDataCenterNotFound,
			"no CassandraDataCenter %s in namespace %s: backing up the pods labelled %s=%s, %s=%s",
			b.Spec.CDC, b.Namespace, lbl.Cluster, b.Spec.Cluster, lbl.Datacenter, b.Spec.Datacenter)
	}
	// Written now, before any agent is contacted.
	return reconciler.Result{RequeueAfter: time.Millisecond}, nil
}

// awaitNodes creates the nodes' operations and follows them by requeue until every node
// is done; a failed or cancelled node ends the backup.
func (c *Controller) awaitNodes(ctx context.Context, ev *event) (reconciler.Result, error) {
	b := ev.Object
	if b.Spec.JustCreate || final(b.Status.State) {
		return reconciler.Result{}, nil
	}
	st := &b.Status
	now := c.cfg.Now()
	deadline := now.Add(time.Hour)
	if st.StartTime != nil {
		deadline = st.StartTime.Add(timeout(b))
	}
	next := jitter(c.cfg.PollInterval)
	before := st.DeepCopy()
	var total, done int64
	var failures []string
	var active, failed, cancelled int
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if !final(n.State) {
			if d := c.awaitNode(ctx, b, n, now, deadline); d > 0 && d < next {
				next = d
			}
			c.measure(b, n, now)
		}
		total += n.BytesTotal
		done += n.BytesUploaded
		switch n.State {
		case v1alpha1.BackupCompleted:
		case v1alpha1.BackupFailed:
			failed++
			failures = append(failures, n.Node+": "+n.Message)
		case v1alpha1.BackupCancelled:
			cancelled++
		default:
			active++
			if n.OperationID != "" && n.State == v1alpha1.BackupRunning {
				st.State = v1alpha1.BackupRunning
			}
		}
	}
	end := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	summarize(st)
	if active == 0 {
		c.gate.Forget(string(b.UID))
	}
	switch {
	case cancelled > 0:
		c.cancelNodes(ctx, b)
		st.State = v1alpha1.BackupCancelled
		st.CompletionTime = &end
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonBackupCancelled, "an operation of the backup was cancelled", b.Generation))
	case active > 0:
		st.Progress = percent(done, total, false)
		c.coalesce(b, before, now)
		return reconciler.Result{RequeueAfter: next}, nil
	case failed > 0:
		st.State = v1alpha1.BackupFailed
		st.Progress = percent(done, total, false)
		st.CompletionTime = &end
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonBackupFailed, strings.Join(failures, "; "), b.Generation))
		klog.FromContext(ctx).Info("Backup failed", "failures", failures)
		c.collectAttempts(ctx, b)
	}
	return reconciler.Result{}, nil
}

// commit creates the remote backup once every node completed: the topology file, the
// backup's commit point.
func (c *Controller) commit(ctx context.Context, ev *event) (reconciler.Result, error) {
	b := ev.Object
	if b.Spec.JustCreate || final(b.Status.State) {
		return reconciler.Result{}, nil
	}
	st := &b.Status
	key, err := c.ext.Create(ctx, b)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(reconciler.WithReason(ReasonStorageUnavailable,
			fmt.Errorf("write the topology file: %w", err)), c.cfg.PollInterval*5)
	}
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	st.State = v1alpha1.BackupCompleted
	st.Progress = "100%"
	st.CompletionTime = &now
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, reconciler.ReasonAvailable,
		fmt.Sprintf("all %d nodes backed up; committed by %s", len(st.Nodes), key), b.Generation))
	klog.FromContext(ctx).Info("Backup completed", "topology", key)
	c.collectAttempts(ctx, b)
	return reconciler.Result{}, nil
}

// storageUnavailable is a storage failure, retried with the Secret's backoff (the Secret
// may be what is wrong).
func (c *Controller) storageUnavailable(err error, ev *event) error {
	if reconciler.ReasonOf(err) == "" {
		err = reconciler.WithReason(ReasonStorageUnavailable, err)
	}
	return reconciler.Temporary(err, c.secretBackoff(ev.Retry))
}

// timeout is the backup's time limit.
func timeout(b *v1alpha1.CassandraBackup) time.Duration {
	if b.Spec.Timeout != nil && b.Spec.Timeout.Duration > 0 {
		return b.Spec.Timeout.Duration
	}
	return DefaultTimeout
}

// jitter returns d ±20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}
