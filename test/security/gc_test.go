package security_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
)

// TestDeletingAnImportKeepsTheSourceBackup is the attack of issue 19 item 5: someone who
// can create CassandraBackups in their own namespace and holds credentials for a shared
// bucket imports (justCreate) another team's backup with deletionPolicy Delete, then
// deletes the import to destroy the original. The remote backup must survive, the import
// says up front that its Delete will not be honoured, and the deletion leaves a Warning
// event. Only the explicit spec.deleteImported opt-in deletes the remote backup.
func TestDeletingAnImportKeepsTheSourceBackup(t *testing.T) {
	e := gcStart(t)
	e.gcRemoteBackup("nightly")
	before := e.gcKeys()
	if !slices.ContainsFunc(before, func(k string) bool { return strings.HasPrefix(k, "topology/") }) {
		t.Fatalf("no committed victim backup: %v", before)
	}

	e.gcImport(e.attacker, "grab", "nightly", func(s *v1alpha1.CassandraBackupSpec) { s.DeletionPolicy = v1alpha1.DeletionPolicyDelete })
	e.gcWaitFor(e.attacker, "grab", "imported, with its Delete refused up front", func(b *v1alpha1.CassandraBackup, err error) bool {
		if err != nil || b.Status.State != v1alpha1.BackupCompleted {
			return false
		}
		for _, c := range b.Status.Conditions {
			if c.Type == backup.ConditionRemoteDeletion && c.Status == metav1.ConditionFalse && c.Reason == backup.ReasonImportRetained {
				return true
			}
		}
		return false
	})
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.attacker).Delete(e.ctx, "grab", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.gcWaitFor(e.attacker, "grab", "gone", func(_ *v1alpha1.CassandraBackup, err error) bool { return apierrors.IsNotFound(err) })
	ev := e.gcEvent(e.attacker, "grab", corev1.EventTypeWarning, backup.ReasonImportRetained)
	if !strings.Contains(ev.Message, "deleteImported") {
		t.Errorf("the event does not say how to opt in: %s", ev.Message)
	}
	if after := e.gcKeys(); !slices.Equal(before, after) {
		t.Fatalf("deleting an import changed the shared bucket: %d keys before, %d after", len(before), len(after))
	}

	// The explicit opt-in is what deletes; without the refusal above, the first deletion
	// would have done the same.
	e.gcImport(e.victim, "owner", "nightly", func(s *v1alpha1.CassandraBackupSpec) {
		s.DeletionPolicy = v1alpha1.DeletionPolicyDelete
		s.DeleteImported = true
	})
	e.gcWaitFor(e.victim, "owner", "imported", func(b *v1alpha1.CassandraBackup, err error) bool {
		return err == nil && b.Status.State == v1alpha1.BackupCompleted
	})
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.victim).Delete(e.ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.gcWaitFor(e.victim, "owner", "gone", func(_ *v1alpha1.CassandraBackup, err error) bool { return apierrors.IsNotFound(err) })
	for _, k := range e.gcKeys() {
		if strings.HasPrefix(k, "topology/") || strings.Contains(k, "/manifests/") || strings.Contains(k, "/data/") && !strings.HasSuffix(k, "/schema.cql") {
			t.Errorf("%s is still there after the opted-in deletion", k)
		}
	}
}
