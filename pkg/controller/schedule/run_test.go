package schedule

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// TestNewBackupCarriesRefreshPolicy: a run's backup keeps the template's refresh settings.
func TestNewBackupCarriesRefreshPolicy(t *testing.T) {
	s := &v1alpha1.CassandraBackupSchedule{}
	s.Spec.Template.LifecycleExpiry = &metav1.Duration{Duration: 720 * time.Hour}
	s.Spec.Template.SkipRefreshing = true
	b := newBackup(s, "nightly-20261130-000000", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	if b.Spec.LifecycleExpiry == nil || b.Spec.LifecycleExpiry.Duration != 720*time.Hour || !b.Spec.SkipRefreshing {
		t.Errorf("run's backup: lifecycleExpiry %v skipRefreshing %v, want 720h and true", b.Spec.LifecycleExpiry, b.Spec.SkipRefreshing)
	}
}

// TestNewBackupCarriesLocationRef: a schedule whose template names a CassandraBackupLocation
// creates runs that name it too, with no inline location of their own.
func TestNewBackupCarriesLocationRef(t *testing.T) {
	s := &v1alpha1.CassandraBackupSchedule{}
	s.Spec.Template.LocationRef = &v1alpha1.LocationReference{Name: "primary"}
	b := newBackup(s, "nightly-20261130-000000", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	if b.Spec.LocationRef == nil || b.Spec.LocationRef.Name != "primary" || b.Spec.StorageLocation != "" {
		t.Errorf("run's backup: locationRef %v storageLocation %q, want primary and none", b.Spec.LocationRef, b.Spec.StorageLocation)
	}
	s.Spec.Template.LocationRef.Name = "changed"
	if b.Spec.LocationRef.Name != "primary" {
		t.Error("the run's backup shares the template's locationRef instead of a copy")
	}
}
