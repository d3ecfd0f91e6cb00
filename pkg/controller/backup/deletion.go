package backup

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/gc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// Reasons of a deletion that waits or refuses.
const (
	// ReasonInUseByRestore: a CassandraDataCenter's spec.restore names the backup and its
	// restore is not COMPLETED; the finalizer is held (Synced reason).
	ReasonInUseByRestore = "InUseByRestore"
	// ReasonBackupInFlight: a backup in flight holds a node whose unreferenced data objects
	// the deletion would collect; the finalizer is held until it ends (Synced reason).
	ReasonBackupInFlight = "BackupInFlight"
	// ReasonImportRetained: a justCreate import with deletionPolicy Delete and without
	// spec.deleteImported; its remote backup is retained (Warning event and condition).
	ReasonImportRetained = "ImportRetained"
)

// ConditionRemoteDeletion is False on a justCreate import whose deletionPolicy Delete
// will not be honoured without spec.deleteImported.
const ConditionRemoteDeletion = "RemoteDeletion"

// delete cancels operations still running and, with deletionPolicy Delete, removes the
// backup from the bucket through the garbage collector (pkg/gc). It holds the finalizer
// while a datacenter restores from the backup, and while a backup in flight holds one of
// its nodes. An import (justCreate) is deleted from the bucket only with
// spec.deleteImported. When the deletion fails because the Secret is gone and the
// namespace is being deleted, the remote backup is retained and the finalizer released:
// nothing can recreate the Secret in a terminating namespace, so retrying would hold the
// namespace forever. A Secret missing from a live namespace is retried (it may come back).
func (c *Controller) delete(ctx context.Context, ev *event) (reconciler.Result, error) {
	b := ev.Object
	if b.Status.Snapshot != "" && !final(b.Status.State) && !b.Spec.JustCreate {
		c.cancelNodes(ctx, b)
	}
	if err := c.restoringFrom(b); err != nil {
		return reconciler.Result{}, reconciler.Temporary(err, jitter(5*c.cfg.PollInterval))
	}
	if b.Spec.DeletionPolicy != v1alpha1.DeletionPolicyDelete || b.Status.Snapshot == "" {
		return reconciler.Result{}, nil
	}
	if b.Spec.JustCreate && !b.Spec.DeleteImported {
		c.warn(ctx, b, ReasonImportRetained, importRetained(b))
		return reconciler.Result{}, nil
	}
	if err := c.ext.Delete(ctx, b); err != nil {
		if gc.IsBusy(err) {
			return reconciler.Result{}, reconciler.Temporary(reconciler.WithReason(ReasonBackupInFlight,
				fmt.Errorf("the backup is removed from the catalog; its data objects wait: %w", err)), jitter(5*c.cfg.PollInterval))
		}
		if c.secretGoneForGood(ctx, b) {
			c.warn(ctx, b, ReasonRemoteBackupRetained, fmt.Sprintf("the Secret %s is gone and namespace %s is being deleted: the remote backup of snapshot %s at %s is retained, not deleted; remove it by hand if it is not wanted",
				b.Storage().Secret, b.Namespace, b.Status.Snapshot, b.Storage().StorageLocation))
			return reconciler.Result{}, nil
		}
		return reconciler.Result{}, c.storageUnavailable(fmt.Errorf("delete the remote backup: %w", err), ev)
	}
	return reconciler.Result{}, nil
}

// importRetained says why an import's remote backup is not deleted.
func importRetained(b *v1alpha1.CassandraBackup) string {
	return fmt.Sprintf("deletionPolicy Delete does not delete an imported (justCreate) backup: the remote backup of snapshot %s at %s belongs to the backup that took it and is retained; set spec.deleteImported: true to delete it",
		b.Spec.SnapshotTag, b.Storage().StorageLocation)
}

// markImportDeletion sets ConditionRemoteDeletion on an import whose Delete policy will
// not be honoured (the reconciler records its Warning event).
func (c *Controller) markImportDeletion(b *v1alpha1.CassandraBackup) {
	if !b.Spec.JustCreate || b.Spec.DeletionPolicy != v1alpha1.DeletionPolicyDelete || b.Spec.DeleteImported {
		return
	}
	reconciler.SetCondition(&b.Status.Conditions, metav1.Condition{Type: ConditionRemoteDeletion, Status: metav1.ConditionFalse,
		Reason: ReasonImportRetained, Message: importRetained(b), ObservedGeneration: b.Generation})
}

// restoringFrom returns an error naming the datacenters whose spec.restore names the
// backup and whose restore is not COMPLETED (a datacenter being deleted does not count).
func (c *Controller) restoringFrom(b *v1alpha1.CassandraBackup) error {
	if c.dcsSynced != nil && !c.dcsSynced() {
		return reconciler.Reasonf(ReasonInUseByRestore, "the CassandraDataCenter cache is not synced yet: cannot tell whether a datacenter restores from this backup")
	}
	dcs, err := c.dcs.CassandraDataCenters(b.Namespace).List(labels.Everything())
	if err != nil {
		return reconciler.WithReason(ReasonInUseByRestore, fmt.Errorf("list CassandraDataCenters: %w", err))
	}
	var using []string
	for _, dc := range dcs {
		if dc.DeletionTimestamp != nil || dc.Spec.Restore == nil || dc.Spec.Restore.BackupName != b.Name {
			continue
		}
		if st := dc.Status.Restore; st == nil || st.State != v1alpha1.RestoreCompleted {
			using = append(using, dc.Name)
		}
	}
	if len(using) == 0 {
		return nil
	}
	return reconciler.Reasonf(ReasonInUseByRestore, "CassandraDataCenter %s restores from this backup (spec.restore) and its restore is not COMPLETED: the backup is kept until it is, or until spec.restore no longer names it",
		strings.Join(using, ", "))
}

// warn logs and records a Warning event.
func (c *Controller) warn(ctx context.Context, b *v1alpha1.CassandraBackup, reason, msg string) {
	klog.FromContext(ctx).Info("Warning", "reason", reason, "message", msg)
	if c.recorder != nil {
		c.recorder.Event(b, corev1.EventTypeWarning, reason, msg)
	}
}

// secretGoneForGood reports whether the backup's Secret does not exist and cannot come
// back: its namespace is being deleted. An error reading either is not "gone for good".
func (c *Controller) secretGoneForGood(ctx context.Context, b *v1alpha1.CassandraBackup) bool {
	if b.Storage().Secret == "" {
		return false
	}
	if _, err := c.credentials(ctx, b); reconciler.ReasonOf(err) != ReasonSecretNotFound {
		return false
	}
	ns, err := c.kube.CoreV1().Namespaces().Get(ctx, b.Namespace, metav1.GetOptions{})
	if err != nil {
		klog.FromContext(ctx).Info("Cannot tell whether the namespace is being deleted; the remote backup's deletion is retried", "err", err)
		return false
	}
	return ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
}
