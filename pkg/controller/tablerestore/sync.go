package tablerestore

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// Reasons of the Ready condition and of events.
const (
	// ReasonRestoring: the nodes are checking, truncating or importing.
	ReasonRestoring = "Restoring"
	// ReasonCompleted: every node imported its part of the backup.
	ReasonCompleted = "Completed"
	// ReasonFailed: a node failed; status.failedNodes lists the nodes to retry.
	ReasonFailed = "Failed"
	// ReasonCheckFailed: a node refused the restore before anything changed (a table id
	// differs from the backup's, not enough disk space); the message names it.
	ReasonCheckFailed = "CheckFailed"
	// ReasonSchemaMismatch: a CHECK refused the restore because a table's columns on a
	// node differ from the backup's (an ALTER TABLE since the backup); the message names
	// the table and the first difference.
	ReasonSchemaMismatch = "SchemaMismatch"
	// ReasonTruncateUnsupported: spec.truncate on pods whose node control cannot truncate
	// (the Management API of cass-operator pods).
	ReasonTruncateUnsupported = "TruncateUnsupported"
	// ReasonCancelled: spec.cancel stopped the restore.
	ReasonCancelled = "Cancelled"
	// ReasonInvalidSpec: the spec cannot be acted on.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonBackupNotReady: the backup does not exist or is not COMPLETED.
	ReasonBackupNotReady = "BackupNotReady"
	// ReasonNoPods: no running pod of the target datacenter.
	ReasonNoPods = "NoPods"
	// ReasonTopologyMismatch: the datacenter's nodes cannot be mapped to the backup's.
	ReasonTopologyMismatch = "TopologyMismatch"
	// ReasonTokensMismatch: a node's tokens differ from those of the backed-up node it maps to.
	ReasonTokensMismatch = "TokensMismatch"
)

type event = reconciler.Event[*v1alpha1.CassandraRestore]

// final reports whether a state ends a restore or a node's phase.
func final(s v1alpha1.TableRestoreState) bool {
	return s == v1alpha1.TableRestoreCompleted || s == v1alpha1.TableRestoreFailed || s == v1alpha1.TableRestoreCancelled
}

// refuse ends a restore that cannot run: FAILED, Ready False with reason, and a permanent
// error (no retry until the spec changes).
func (c *Controller) refuse(r *v1alpha1.CassandraRestore, reason, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	st := &r.Status
	st.State = v1alpha1.TableRestoreFailed
	end := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	st.CompletionTime = &end
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, reason, msg, r.Generation))
	return reconciler.Permanent(reconciler.WithReason(reason, fmt.Errorf("%s", msg)))
}

// validate checks the entities and that the backup is COMPLETED.
func (c *Controller) validate(ctx context.Context, ev *event) (reconciler.Result, error) {
	r := ev.Object
	if r.Status.State == v1alpha1.TableRestoreCompleted || r.Status.State == v1alpha1.TableRestoreCancelled {
		return reconciler.Result{}, nil
	}
	es, err := cassandra.ParseEntities(r.Spec.Entities)
	if err != nil {
		return reconciler.Result{}, c.refuse(r, ReasonInvalidSpec, "spec.entities: %v", err)
	}
	if len(es) == 0 {
		return reconciler.Result{}, c.refuse(r, ReasonInvalidSpec, "spec.entities names no keyspace or table")
	}
	for _, e := range es {
		if cassandra.IsSystemKeyspace(e.Keyspace) {
			return reconciler.Result{}, c.refuse(r, ReasonInvalidSpec, "spec.entities: %s is a system keyspace, which a running node owns: it cannot be restored into it", e)
		}
	}
	if _, err := c.backupOf(r); err != nil {
		reconciler.SetCondition(&r.Status.Conditions, reconciler.Ready(false, ReasonBackupNotReady, err.Error(), r.Generation))
		r.Status.State = v1alpha1.TableRestorePending
		return reconciler.Result{}, reconciler.Temporary(reconciler.WithReason(ReasonBackupNotReady, err), 10*time.Second)
	}
	return reconciler.Result{}, nil
}

// backupOf returns the restore's backup when it is COMPLETED.
func (c *Controller) backupOf(r *v1alpha1.CassandraRestore) (*v1alpha1.CassandraBackup, error) {
	b, err := c.backups.CassandraBackups(r.Namespace).Get(r.Spec.BackupName)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("CassandraBackup %s not found in namespace %s", r.Spec.BackupName, r.Namespace)
	}
	if err != nil {
		return nil, err
	}
	if b.Status.State != v1alpha1.BackupCompleted {
		return nil, fmt.Errorf("CassandraBackup %s is %q, not COMPLETED", b.Name, b.Status.State)
	}
	return b, nil
}

// retry runs the FAILED nodes again when spec.retry was raised; nodes that completed
// keep their import and are not run again.
func (c *Controller) retry(ctx context.Context, ev *event) (reconciler.Result, error) {
	r := ev.Object
	st := &r.Status
	if r.Spec.Retry <= st.Retried {
		return reconciler.Result{}, nil
	}
	st.Retried = r.Spec.Retry
	if st.State != v1alpha1.TableRestoreFailed || len(st.FailedNodes) == 0 {
		return reconciler.Result{}, nil
	}
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if n.State == v1alpha1.TableRestoreFailed {
			n.State, n.OperationKey, n.OperationID = v1alpha1.TableRestorePending, "", ""
			n.Message = "retrying (spec.retry)"
			n.CompletionTime = nil
		}
	}
	klog.FromContext(ctx).Info("Retrying the failed nodes", "nodes", st.FailedNodes)
	st.FailedNodes = nil
	st.State = v1alpha1.TableRestoreRunning
	st.CompletionTime = nil
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonRestoring, "retrying the failed nodes", r.Generation))
	return reconciler.Result{}, nil
}

// cancel stops a restore whose spec.cancel is set before it finished: the nodes not
// finished have their operation cancelled; those that finished their import keep it.
func (c *Controller) cancel(ctx context.Context, ev *event) (reconciler.Result, error) {
	r := ev.Object
	st := &r.Status
	if !r.Spec.Cancel || st.State == v1alpha1.TableRestoreCompleted || st.State == v1alpha1.TableRestoreCancelled {
		return reconciler.Result{}, nil
	}
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	var kept, stopped []string
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if n.State != v1alpha1.TableRestoreCompleted && n.OperationID != "" {
			c.stopNode(ctx, r, n)
		}
		if n.Phase == v1alpha1.TableRestoreImport && n.State == v1alpha1.TableRestoreCompleted {
			kept = append(kept, n.Node)
			n.Message = "finished before the cancel: its import is kept"
			continue
		}
		stopped = append(stopped, n.Node)
		if n.State != v1alpha1.TableRestoreFailed {
			n.State = v1alpha1.TableRestoreCancelled
			n.Message = fmt.Sprintf("cancelled in phase %s: nothing of this restore was imported on it", n.Phase)
			if n.Phase == v1alpha1.TableRestoreImport {
				n.Message = "cancelled before its import finished"
			}
			n.CompletionTime = &now
		}
	}
	st.State = v1alpha1.TableRestoreCancelled
	st.FailedNodes = nil
	st.CompletionTime = &now
	msg := fmt.Sprintf("cancelled by spec.cancel: kept the import of %d nodes [%s]; stopped %d nodes [%s]",
		len(kept), strings.Join(kept, ", "), len(stopped), strings.Join(stopped, ", "))
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonCancelled, msg, r.Generation))
	if c.recorder != nil {
		c.recorder.Event(r, corev1.EventTypeNormal, ReasonCancelled, msg)
	}
	klog.FromContext(ctx).Info("Restore cancelled", "kept", kept, "stopped", stopped)
	return reconciler.Result{}, nil
}
