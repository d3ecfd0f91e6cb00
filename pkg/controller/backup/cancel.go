package backup

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// ReasonCancelledBySpec: the Ready reason and event of a backup cancelled by spec.cancel.
const ReasonCancelledBySpec = "CancelledBySpec"

// cancel ends a backup whose spec.cancel is set before it finished: it cancels every
// node's operation on its agent (the agent clears the snapshot) and leaves the backup
// CANCELLED with the progress it had. It runs first, so a cancelled backup never starts.
func (c *Controller) cancel(ctx context.Context, ev *event) (reconciler.Result, error) {
	b := ev.Object
	if !b.Spec.Cancel || b.Spec.JustCreate || final(b.Status.State) {
		return reconciler.Result{}, nil
	}
	st := &b.Status
	c.cancelNodes(ctx, b)
	var total, done int64
	for _, n := range st.Nodes {
		total += n.BytesTotal
		done += n.BytesUploaded
	}
	end := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	st.State = v1alpha1.BackupCancelled
	st.Progress = percent(done, total, false)
	st.CompletionTime = &end
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonCancelledBySpec, "cancelled by spec.cancel", b.Generation))
	if c.recorder != nil {
		c.recorder.Eventf(b, corev1.EventTypeNormal, ReasonCancelledBySpec, "Cancelled by spec.cancel: %d nodes, %s uploaded", len(st.Nodes), st.Progress)
	}
	klog.FromContext(ctx).Info("Backup cancelled by spec.cancel", "progress", st.Progress)
	return reconciler.Result{}, nil
}
