package backup

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// awaitNode advances one node's operation through the External: it creates the operation
// when the node has none, observes it otherwise, and decides from what it sees (retry,
// resubmit after an agent restart, time out). It returns how soon to look again (0: the
// default).
func (c *Controller) awaitNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus, now, deadline time.Time) time.Duration {
	logger := klog.FromContext(ctx).WithValues("node", n.Node)
	if n.OperationID == "" {
		return c.createNode(ctx, b, n, now, deadline)
	}
	op, err := c.ext.ObserveNode(ctx, b, n)
	switch {
	case errors.Is(err, client.ErrNotFound):
		logger.Info("Operation unknown to the agent: resubmitting", "operation", n.OperationID)
		n.OperationID = ""
		n.Message = "operation unknown to the agent (restarted?): resubmitting"
		return time.Millisecond
	case err != nil:
		c.unreachable(ctx, n, err, now, deadline)
		return 0
	}
	record(n, &op)
	switch op.State {
	case api.StateCompleted:
		n.State = v1alpha1.BackupCompleted
		n.Progress = "100%"
		n.Message = ""
		n.CompletionTime = timePtr(op.CompletionTime, now)
	case api.StateFailed:
		msg := opMessage(&op)
		if int(n.Attempts) < c.cfg.MaxAttempts && now.Before(deadline) {
			logger.Info("Operation failed: resubmitting", "attempt", n.Attempts, "err", msg)
			n.OperationID = ""
			n.State = v1alpha1.BackupPending
			n.Message = fmt.Sprintf("attempt %d failed: %s; retrying", n.Attempts, msg)
			return time.Millisecond
		}
		n.State = v1alpha1.BackupFailed
		n.Message = fmt.Sprintf("failed after %d attempts: %s", n.Attempts, msg)
		n.CompletionTime = timePtr(op.CompletionTime, now)
	case api.StateCancelled:
		n.State = v1alpha1.BackupCancelled
		n.Message = "the operation was cancelled on the agent"
		n.CompletionTime = timePtr(op.CompletionTime, now)
	default:
		n.State = v1alpha1.BackupRunning
		n.Message = ""
		if !now.Before(deadline) {
			if err := c.ext.DeleteNode(ctx, b, n); err != nil {
				logger.Info("Cancelling a timed-out operation failed", "err", err)
			}
			n.State = v1alpha1.BackupFailed
			n.Message = fmt.Sprintf("timed out: not completed within the backup's timeout of %s; the operation was cancelled", timeout(b))
			n.CompletionTime = timePtr(nil, now)
		}
	}
	return 0
}

// errGaveUp is CreateNode's answer for a node whose operation was submitted
// Options.MaxAttempts+5 times already: the node fails.
var errGaveUp = errors.New("submitted too many times")

// createNode gets the node an operation: adopted or submitted. It returns how soon to
// look again (0: the default).
func (c *Controller) createNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus, now, deadline time.Time) time.Duration {
	op, submitted, err := c.ext.CreateNode(ctx, b, n)
	var apiErr *client.APIError
	switch {
	case errors.Is(err, errGaveUp):
		n.State = v1alpha1.BackupFailed
		n.Message = fmt.Sprintf("submitted %d times without completing: giving up (%s)", n.Attempts, n.Message)
		return 0
	case errors.As(err, &apiErr) && apiErr.Status == 400:
		n.State = v1alpha1.BackupFailed
		n.Message = "the agent refused the request: " + apiErr.Message
		return 0
	case errors.As(err, &apiErr) && apiErr.Busy():
		return c.busy(ctx, n, apiErr, now, deadline)
	case err != nil:
		c.unreachable(ctx, n, err, now, deadline)
		return 0
	}
	if submitted {
		n.Attempts++
		klog.FromContext(ctx).V(1).Info("Operation submitted", "node", n.Node, "operation", op.ID, "attempt", n.Attempts)
	}
	n.OperationID = op.ID
	if n.StartTime == nil {
		n.StartTime = timePtr(nil, now)
	}
	n.State = v1alpha1.BackupRunning
	if op.State == api.StatePending {
		n.State = v1alpha1.BackupPending
	}
	n.Message = ""
	record(n, &op)
	return 0
}

// busy notes an agent at its limit of concurrent operations: nothing started, so it is no
// attempt (n.Attempts stays); the submission is retried after the agent's Retry-After,
// until the backup's deadline.
func (c *Controller) busy(ctx context.Context, n *v1alpha1.NodeBackupStatus, e *client.APIError, now, deadline time.Time) time.Duration {
	msg := "agent busy: " + e.Message
	if !now.Before(deadline) {
		n.State = v1alpha1.BackupFailed
		n.Message = msg + "; gave up at the backup's timeout"
		n.CompletionTime = timePtr(nil, now)
		return 0
	}
	if n.Message != msg {
		klog.FromContext(ctx).Info("Agent at its operation limit, retrying", "node", n.Node, "retryAfter", e.RetryAfter)
	}
	n.Message = msg
	return max(e.RetryAfter, time.Second)
}

// unreachable notes an agent that cannot be reached; past the deadline the node fails.
func (c *Controller) unreachable(ctx context.Context, n *v1alpha1.NodeBackupStatus, err error, now, deadline time.Time) {
	msg := fmt.Sprintf("agent unreachable: %s", stableError(err))
	if !now.Before(deadline) {
		n.State = v1alpha1.BackupFailed
		n.Message = msg + "; gave up at the backup's timeout"
		n.CompletionTime = timePtr(nil, now)
		return
	}
	if n.Message != msg {
		klog.FromContext(ctx).Info("Agent unreachable, retrying", "node", n.Node, "err", err)
	}
	n.Message = msg
}

// cancelNodes cancels the operations of nodes that have not ended.
func (c *Controller) cancelNodes(ctx context.Context, b *v1alpha1.CassandraBackup) {
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	for i := range b.Status.Nodes {
		n := &b.Status.Nodes[i]
		if final(n.State) {
			continue
		}
		if n.OperationID != "" {
			if err := c.ext.DeleteNode(ctx, b, n); err != nil {
				klog.FromContext(ctx).Info("Cancel failed", "node", n.Node, "operation", n.OperationID, "err", err)
			}
		}
		n.State = v1alpha1.BackupCancelled
		n.Message = "cancelled with the backup"
		n.CompletionTime = &now
	}
}

// stableError drops the parts of an error that change between attempts (ephemeral
// ports), so retrying does not rewrite status.
func stableError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if i := strings.Index(s, "->"); i >= 0 {
		if j := strings.Index(s[i:], ":"); j >= 0 {
			s = strings.TrimSpace(s[:strings.LastIndex(s[:i], " ")+1]) + s[i+j:]
		}
	}
	return s
}

// record copies an operation's counts to the node.
func record(n *v1alpha1.NodeBackupStatus, op *api.Operation) {
	n.BytesTotal = op.BytesTotal
	n.BytesUploaded = op.BytesTransferred + op.BytesSkipped
	n.FilesTotal = int64(op.FilesTotal)
	n.FilesSkipped = int64(op.FilesSkipped)
	n.Progress = percent(n.BytesUploaded, n.BytesTotal, op.State == api.StateCompleted)
}

// opMessage joins an operation's errors.
func opMessage(op *api.Operation) string {
	var msgs []string
	for _, e := range op.Errors {
		if e.Source != "" {
			msgs = append(msgs, e.Source+": "+e.Message)
		} else {
			msgs = append(msgs, e.Message)
		}
	}
	if len(msgs) == 0 {
		return "the operation failed without an error message"
	}
	return strings.Join(msgs, "; ")
}

// timePtr returns *t, or def when t is nil, to the second.
func timePtr(t *time.Time, def time.Time) *metav1.Time {
	v := def
	if t != nil {
		v = *t
	}
	m := metav1.NewTime(v.Truncate(time.Second))
	return &m
}

// final reports whether a state ends a backup or a node's part of it.
func final(s v1alpha1.BackupState) bool {
	return s == v1alpha1.BackupCompleted || s == v1alpha1.BackupFailed || s == v1alpha1.BackupCancelled
}

// percent formats done/total as "83%"; it reaches 100% only when complete.
func percent(done, total int64, complete bool) string {
	switch {
	case complete:
		return "100%"
	case total <= 0:
		return "0%"
	}
	p := done * 100 / total
	if p >= 100 {
		p = 99
	}
	return fmt.Sprintf("%d%%", p)
}

// request is the backup operation sent to every node.
func request(b *v1alpha1.CassandraBackup) api.Request {
	s, loc := &b.Spec, b.Storage()
	req := api.Request{
		Type:                   api.TypeBackup,
		StorageLocation:        loc.StorageLocation,
		SnapshotTag:            b.Status.Snapshot,
		Entities:               s.Entities,
		DC:                     s.Datacenter,
		ConcurrentConnections:  int(s.ConcurrentConnections),
		MetadataDirective:      string(loc.MetadataDirective),
		SkipRefreshing:         loc.SkipRefreshing,
		Insecure:               loc.Insecure,
		CreateMissingBucket:    loc.CreateMissingBucket,
		SkipBucketVerification: loc.SkipBucketVerification,
		BackupUID:              string(b.UID),
	}
	if loc.Secret != "" {
		req.K8sNamespace, req.K8sSecretName = b.Namespace, loc.Secret
	}
	if loc.LifecycleExpiry != nil {
		req.LifecycleExpiry = loc.LifecycleExpiry.Duration
	}
	if s.Bandwidth != nil {
		req.Bandwidth = &api.Bandwidth{Value: s.Bandwidth.Value(), Unit: "BPS"}
	}
	// Icarus counts its timeout in whole hours; the operator enforces the exact one.
	req.Timeout = int((timeout(b) + time.Hour - 1) / time.Hour)
	return req
}
