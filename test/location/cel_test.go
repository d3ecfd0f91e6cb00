package location_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// The API server refuses a backup with both or neither of storageLocation and
// locationRef, location fields next to a locationRef, a change of either, and a change of
// a location's storageLocation.
func TestLocationRulesCEL(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	backups := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns)
	backup := func(name string, edit func(*v1alpha1.CassandraBackupSpec)) *v1alpha1.CassandraBackup {
		b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.CassandraBackupSpec{
			CDC: "cdc", Cluster: "c", Datacenter: "dc1", SnapshotTag: "t"}}
		edit(&b.Spec)
		return b
	}
	ref := &v1alpha1.LocationReference{Name: "shared"}
	for _, c := range []struct {
		name string
		edit func(*v1alpha1.CassandraBackupSpec)
		want string
	}{
		{"neither", func(*v1alpha1.CassandraBackupSpec) {}, "exactly one of storageLocation and locationRef"},
		{"both", func(s *v1alpha1.CassandraBackupSpec) { s.StorageLocation, s.LocationRef = "s3://b-1", ref }, "exactly one of storageLocation and locationRef"},
		{"ref-and-secret", func(s *v1alpha1.CassandraBackupSpec) { s.LocationRef, s.Secret = ref, "s" }, "come from the CassandraBackupLocation"},
		{"ref-and-insecure", func(s *v1alpha1.CassandraBackupSpec) { s.LocationRef, s.Insecure = ref, true }, "come from the CassandraBackupLocation"},
	} {
		_, err := backups.Create(ctx, backup(c.name, c.edit), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a refusal with %q", c.name, err, c.want)
		}
	}

	withRef, err := backups.Create(ctx, backup("with-ref", func(s *v1alpha1.CassandraBackupSpec) { s.LocationRef = ref }), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inline, err := backups.Create(ctx, backup("inline", func(s *v1alpha1.CassandraBackupSpec) { s.StorageLocation = "s3://b-1" }), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    *v1alpha1.CassandraBackup
		edit func(*v1alpha1.CassandraBackupSpec)
		want string
	}{
		{"ref renamed", withRef, func(s *v1alpha1.CassandraBackupSpec) { s.LocationRef = &v1alpha1.LocationReference{Name: "other"} }, "locationRef is immutable"},
		{"ref to inline", withRef, func(s *v1alpha1.CassandraBackupSpec) { s.LocationRef, s.StorageLocation = nil, "s3://b-1" }, "storageLocation is immutable"},
		{"inline moved", inline, func(s *v1alpha1.CassandraBackupSpec) { s.StorageLocation = "s3://b-2" }, "storageLocation is immutable"},
		{"inline to ref", inline, func(s *v1alpha1.CassandraBackupSpec) { s.StorageLocation, s.LocationRef = "", ref }, "locationRef is immutable"},
	} {
		b := c.b.DeepCopy()
		c.edit(&b.Spec)
		_, err := backups.Update(ctx, b, metav1.UpdateOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a refusal with %q", c.name, err, c.want)
		}
	}

	locs := e.client.CassandraoperatorV1alpha1().CassandraBackupLocations(e.ns)
	l, err := locs.Create(ctx, &v1alpha1.CassandraBackupLocation{ObjectMeta: metav1.ObjectMeta{Name: "shared"},
		Spec: spec("s3://b-1", "s")}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.Secret, l.Spec.Sync = "other", true // allowed
	if l, err = locs.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("a location's secret and sync change: %v", err)
	}
	l.Spec.StorageLocation = "s3://b-2"
	if _, err := locs.Update(ctx, l, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "storageLocation is immutable") {
		t.Errorf("a location's storageLocation changed: %v", err)
	}
	if _, err := locs.Create(ctx, &v1alpha1.CassandraBackupLocation{ObjectMeta: metav1.ObjectMeta{Name: "nowhere"}}, metav1.CreateOptions{}); err == nil {
		t.Error("a location without storageLocation was accepted")
	}

	// A schedule's template takes the same choice as a backup.
	schedules := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns)
	for _, c := range []struct {
		name string
		edit func(*v1alpha1.BackupTemplate)
		want string // "" accepted
	}{
		{"tpl-neither", func(*v1alpha1.BackupTemplate) {}, "exactly one of storageLocation and locationRef"},
		{"tpl-both", func(t *v1alpha1.BackupTemplate) { t.StorageLocation, t.LocationRef = "s3://b-1", ref }, "exactly one of storageLocation and locationRef"},
		{"tpl-ref-and-secret", func(t *v1alpha1.BackupTemplate) { t.LocationRef, t.Secret = ref, "s" }, "come from the CassandraBackupLocation"},
		{"tpl-ref", func(t *v1alpha1.BackupTemplate) { t.LocationRef = ref }, ""},
		{"tpl-inline", func(t *v1alpha1.BackupTemplate) { t.StorageLocation, t.Secret = "s3://b-1", "s" }, ""},
	} {
		sc := &v1alpha1.CassandraBackupSchedule{ObjectMeta: metav1.ObjectMeta{Name: c.name}, Spec: v1alpha1.CassandraBackupScheduleSpec{
			Schedule: "@daily", Template: v1alpha1.BackupTemplate{CDC: "cdc", Cluster: "c", Datacenter: "dc1"}}}
		c.edit(&sc.Spec.Template)
		_, err := schedules.Create(ctx, sc, metav1.CreateOptions{})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want a refusal with %q", c.name, err, c.want)
		}
	}
}
