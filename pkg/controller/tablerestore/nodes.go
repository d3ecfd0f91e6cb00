package tablerestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// run drives every node through the current phase and moves all of them to the next one
// when the phase completed everywhere. Operation keys are recorded in status (one pass)
// before the operations are submitted (the next pass).
func (c *Controller) run(ctx context.Context, ev *event) (reconciler.Result, error) {
	r := ev.Object
	st := &r.Status
	if final(st.State) || len(st.Nodes) == 0 {
		return reconciler.Result{}, nil
	}
	recorded := false
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if !final(n.State) && n.OperationKey == "" {
			if n.Phase == v1alpha1.TableRestoreImport {
				n.Attempts++
			}
			n.OperationKey = fmt.Sprintf("%s/%s/%s/%d/%d", r.UID, n.Node, n.Phase, st.Retried, n.Attempts)
			recorded = true
		}
	}
	if recorded {
		return reconciler.Result{RequeueAfter: time.Millisecond}, nil
	}
	b, err := c.backupOf(r)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(reconciler.WithReason(ReasonBackupNotReady, err), 10*time.Second)
	}
	next := time.Duration(0)
	var crash error // the Failpoint's: every node is stepped, then nothing is recorded
	for i := range st.Nodes {
		if n := &st.Nodes[i]; !final(n.State) {
			d, err := c.step(ctx, r, b, n)
			if err != nil {
				crash = err
				continue
			}
			if d <= 0 {
				d = c.cfg.PollInterval
			}
			if next == 0 || d < next {
				next = d
			}
		}
	}
	if crash != nil {
		return reconciler.Result{}, crash
	}
	summarize(st)
	var failed []string
	for _, n := range st.Nodes {
		if !final(n.State) {
			return reconciler.Result{RequeueAfter: next}, nil
		}
		if n.State != v1alpha1.TableRestoreCompleted {
			failed = append(failed, n.Node)
		}
	}
	if len(failed) == 0 && st.Phase != v1alpha1.TableRestoreImport {
		c.advance(r)
		return reconciler.Result{RequeueAfter: time.Millisecond}, nil
	}
	c.finish(ctx, r, failed)
	return reconciler.Result{}, nil
}

// advance moves every node to the phase after the current one.
func (c *Controller) advance(r *v1alpha1.CassandraRestore) {
	st := &r.Status
	next := v1alpha1.TableRestoreImport
	if st.Phase == v1alpha1.TableRestoreCheck && r.Spec.Truncate {
		next = v1alpha1.TableRestoreTruncate
	}
	st.Phase = next
	for i := range st.Nodes {
		n := &st.Nodes[i]
		n.Phase, n.State, n.OperationKey, n.OperationID, n.Message, n.CompletionTime = next, v1alpha1.TableRestorePending, "", "", "", nil
	}
}

// finish ends the restore: COMPLETED, or FAILED with the nodes to retry.
func (c *Controller) finish(ctx context.Context, r *v1alpha1.CassandraRestore, failed []string) {
	st := &r.Status
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	st.CompletionTime = &now
	if len(failed) == 0 {
		st.State = v1alpha1.TableRestoreCompleted
		st.Progress = "100%"
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, ReasonCompleted,
			fmt.Sprintf("restored %s into %d nodes", r.Spec.Entities, len(st.Nodes)), r.Generation))
		c.event(r, corev1.EventTypeNormal, ReasonCompleted, "Restored %s into %d nodes", r.Spec.Entities, len(st.Nodes))
		return
	}
	st.State = v1alpha1.TableRestoreFailed
	st.FailedNodes = failed
	var msgs []string
	for _, n := range st.Nodes {
		if n.State == v1alpha1.TableRestoreFailed {
			msgs = append(msgs, n.Node+": "+n.Message)
		}
	}
	reason, what := failureReason(st), "nodes that completed keep their import; raise spec.retry to run the failed ones again"
	if st.Phase != v1alpha1.TableRestoreImport {
		what = fmt.Sprintf("nothing was imported (phase %s); raise spec.retry to run the failed nodes again", st.Phase)
	}
	msg := fmt.Sprintf("failed on %s: %s; %s", strings.Join(failed, ", "), strings.Join(msgs, "; "), what)
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, reason, msg, r.Generation))
	c.event(r, corev1.EventTypeWarning, reason, "%s", msg)
	klog.FromContext(ctx).Info("Restore failed", "nodes", failed)
}

func (c *Controller) event(r *v1alpha1.CassandraRestore, typ, reason, format string, args ...any) {
	if c.recorder != nil {
		c.recorder.Eventf(r, typ, reason, format, args...)
	}
}

// step submits the node's operation of its phase, or observes it; it returns how soon to
// look again (0: the poll interval). Its error is the Failpoint's.
func (c *Controller) step(ctx context.Context, r *v1alpha1.CassandraRestore, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeTableRestoreStatus) (time.Duration, error) {
	addr, err := c.address(r.Namespace, n.Node)
	if err != nil {
		return c.unreachable(r, n, err), nil
	}
	agents := c.cfg.Agents.For(r.Namespace)
	if n.OperationID == "" {
		req, err := c.request(r, b, n)
		if err != nil {
			n.State, n.Message = v1alpha1.TableRestoreFailed, err.Error()
			return 0, nil
		}
		op, err := agents.Submit(ctx, addr, req)
		var apiErr *client.APIError
		if err == nil || errors.As(err, &apiErr) {
			c.forget(r, n.Node)
		}
		switch {
		case errors.As(err, &apiErr) && apiErr.Busy():
			n.Message = "agent busy: " + apiErr.Message
			return max(apiErr.RetryAfter, time.Second), nil
		case errors.As(err, &apiErr) && apiErr.Status == 400:
			n.State, n.Message = v1alpha1.TableRestoreFailed, "the agent refused the request: "+apiErr.Message
			return 0, nil
		case err != nil:
			return c.unreachable(r, n, err), nil
		}
		if err := c.cfg.Failpoint(FailpointSubmitted); err != nil {
			return 0, err
		}
		n.OperationID = op.ID
		klog.FromContext(ctx).V(1).Info("Operation submitted", "node", n.Node, "phase", n.Phase, "operation", op.ID, "key", n.OperationKey)
		c.record(r, n, &op)
		return 0, nil
	}
	op, err := agents.Get(ctx, addr, n.OperationID)
	var apiErr *client.APIError
	if err == nil || errors.Is(err, client.ErrNotFound) || errors.As(err, &apiErr) {
		c.forget(r, n.Node)
	}
	switch {
	case errors.Is(err, client.ErrNotFound):
		n.OperationID = ""
		n.Message = "operation unknown to the agent (restarted?): resubmitting"
		return time.Millisecond, nil
	case err != nil:
		return c.unreachable(r, n, err), nil
	}
	c.record(r, n, &op)
	return 0, nil
}

// record copies an operation's state and counts to the node.
func (c *Controller) record(r *v1alpha1.CassandraRestore, n *v1alpha1.NodeTableRestoreStatus, op *api.Operation) {
	now := c.cfg.Now()
	switch op.State {
	case api.StateCompleted:
		n.State, n.Message = v1alpha1.TableRestoreCompleted, ""
		t := metav1.NewTime(now.Truncate(time.Second))
		n.CompletionTime = &t
	case api.StateFailed:
		n.State, n.Message = v1alpha1.TableRestoreFailed, opMessage(op)
		t := metav1.NewTime(now.Truncate(time.Second))
		n.CompletionTime = &t
	case api.StateCancelled:
		n.State, n.Message = v1alpha1.TableRestoreCancelled, "the operation was cancelled on the agent"
	default:
		n.State, n.Message = v1alpha1.TableRestoreRunning, ""
	}
	if n.Phase != v1alpha1.TableRestoreImport {
		return
	}
	n.BytesTotal, n.BytesDone, n.Files = op.BytesTotal, op.BytesTransferred+op.BytesSkipped, int64(op.FilesTotal)
	key := string(r.UID) + "/" + n.Node
	c.mu.Lock()
	m := c.meters[key]
	if m == nil {
		m = &progress.Meter{}
		c.meters[key] = m
	}
	m.Observe(now, n.BytesDone)
	rep := m.Report(n.BytesTotal)
	if final(n.State) {
		delete(c.meters, key)
	}
	c.mu.Unlock()
	if final(n.State) {
		n.TransferRate = v1alpha1.TransferRate{}
		return
	}
	if n.ProgressTime == nil || now.Sub(n.ProgressTime.Time) >= RateInterval {
		t := metav1.NewTime(now.Truncate(time.Second))
		n.TransferRate = v1alpha1.TransferRate{BytesPerSecond: int64(rep.Rate), ETA: rep.ETAString(), ProgressTime: &t}
	}
}

// stopNode cancels the node's operation on its agent (best effort) and records its state
// as the agent reports it: an operation that completed meanwhile stays COMPLETED.
func (c *Controller) stopNode(ctx context.Context, r *v1alpha1.CassandraRestore, n *v1alpha1.NodeTableRestoreStatus) {
	addr, err := c.address(r.Namespace, n.Node)
	if err != nil {
		return
	}
	agents := c.cfg.Agents.For(r.Namespace)
	if op, err := agents.Get(ctx, addr, n.OperationID); err == nil && op.State == api.StateCompleted {
		c.record(r, n, &op)
		return
	}
	if err := agents.Cancel(ctx, addr, n.OperationID); err != nil && !errors.Is(err, client.ErrNotFound) {
		klog.FromContext(ctx).Info("Cancel failed", "node", n.Node, "operation", n.OperationID, "err", err)
	}
}

// summarize computes the restore's progress from its nodes' bytes.
func summarize(st *v1alpha1.CassandraRestoreStatus) {
	var done, total int64
	for _, n := range st.Nodes {
		done += n.BytesDone
		total += n.BytesTotal
	}
	p := int64(0)
	if total > 0 {
		p = min(done*100/total, 99)
	}
	st.Progress = fmt.Sprintf("%d%%", p)
}

// opMessage joins an operation's errors.
func opMessage(op *api.Operation) string {
	var msgs []string
	for _, e := range op.Errors {
		msgs = append(msgs, e.Message)
	}
	if len(msgs) == 0 {
		return "the operation failed without an error message"
	}
	return strings.Join(msgs, "; ")
}
