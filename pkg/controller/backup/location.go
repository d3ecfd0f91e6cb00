package backup

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// ReasonLocationNotFound: spec.locationRef names a CassandraBackupLocation that does not
// exist (yet); the backup waits for it with backoff (Synced reason).
const ReasonLocationNotFound = "LocationNotFound"

// resolveLocation copies the CassandraBackupLocation that spec.locationRef names into
// status.location, until the backup has started (status.snapshot) or finished: from then on
// the recorded location is the backup's, whatever happens to the CassandraBackupLocation.
// A backup with its own location fields records nothing.
func (c *Controller) resolveLocation(b *v1alpha1.CassandraBackup) error {
	ref := b.Spec.LocationRef
	if ref == nil || b.Status.Snapshot != "" || final(b.Status.State) {
		return nil
	}
	l, err := c.locations.CassandraBackupLocations(b.Namespace).Get(ref.Name)
	switch {
	case apierrors.IsNotFound(err):
		return reconciler.Reasonf(ReasonLocationNotFound, "CassandraBackupLocation %s not found in namespace %s: create it, or fix spec.locationRef", ref.Name, b.Namespace)
	case err != nil:
		return fmt.Errorf("get CassandraBackupLocation %s: %w", ref.Name, err)
	}
	b.Status.Location = &v1alpha1.ResolvedLocation{Name: l.Name, BackupStorage: l.Spec.BackupStorage}
	return nil
}

// secretField names the field that sets a backup's Secret, for messages.
func secretField(b *v1alpha1.CassandraBackup) string {
	if b.Spec.LocationRef != nil {
		return "spec.secret of CassandraBackupLocation " + b.Spec.LocationRef.Name
	}
	return "spec.secret"
}
