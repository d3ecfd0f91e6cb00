package restore

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// ReasonBackupRefused: the bucket holds a topology or manifest with a value that is not
// data of its kind (a token that is not an integer of the partitioner's range, a name
// with syntax in it): nothing of it is planned. The condition names the value.
const ReasonBackupRefused = "BackupRefused"

// refused reports whether err is bucket content refused for what it holds.
func refused(err error) bool {
	var r *layout.RefusedError
	return errors.As(err, &r)
}

// refuse fails the restore for good (until spec.restore changes) with the reason and msg
// in the Ready condition and a Warning event.
func (c *Controller) refuse(dc *v1alpha1.CassandraDataCenter, reason, msg string) error {
	st := status(dc)
	st.State = v1alpha1.RestoreFailed
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, reason, msg, dc.Generation))
	c.event(dc, corev1.EventTypeWarning, reason, msg)
	return reconciler.Permanent(reconciler.WithReason(reason, errors.New(msg)))
}

// refusedMsg is the condition's message for a refused backup.
func refusedMsg(b *v1alpha1.CassandraBackup, err error) string {
	return fmt.Sprintf("backup %s in %s is refused, nothing of it is restored: %v", b.Name, b.Storage().StorageLocation, err)
}
