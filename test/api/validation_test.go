package api_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

var (
	backupsGVR = v1alpha1.SchemeGroupVersion.WithResource("cassandrabackups")
	dcsGVR     = v1alpha1.SchemeGroupVersion.WithResource("cassandradatacenters")
)

func validBackup(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.SchemeGroupVersion.String(),
		"kind":       "CassandraBackup",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"cdc":             "test-cluster-dc1-cassandra",
			"cluster":         "test-cluster",
			"datacenter":      "dc1",
			"storageLocation": "s3://cassandra-bucket",
			"snapshotTag":     "mySnapshotTag",
		},
	}}
}

func validDataCenter(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.SchemeGroupVersion.String(),
		"kind":       "CassandraDataCenter",
		"metadata":   map[string]any{"name": name},
		"spec":       map[string]any{"restore": map[string]any{"backupName": "b1"}},
	}}
}

func set(path string, value any) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		if err := unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...); err != nil {
			panic(err)
		}
	}
}

func unset(path string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		unstructured.RemoveNestedField(u.Object, strings.Split(path, ".")...)
	}
}

// Malformed objects are refused by the API server itself, with a message that names the
// field and says what is wrong.
func TestMalformedObjectsAreRejected(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	dyn := dynamic.NewForConfigOrDie(cp.Config())

	cases := []struct {
		name   string
		gvr    schema.GroupVersionResource
		mutate func(*unstructured.Unstructured)
		want   []string // all must appear in the error
	}{
		{"unknown scheme", backupsGVR, set("spec.storageLocation", "ftp://cassandra-bucket"), []string{"spec.storageLocation", "must start with s3://, azure://, gcp:// or file://"}},
		{"no scheme", backupsGVR, set("spec.storageLocation", "cassandra-bucket"), []string{"spec.storageLocation", "must start with s3://"}},
		{"empty bucket", backupsGVR, set("spec.storageLocation", "s3://"), []string{"spec.storageLocation", "must name a bucket"}},
		{"empty bucket before path", backupsGVR, set("spec.storageLocation", "gcp:///cluster/dc"), []string{"spec.storageLocation", "must name a bucket"}},
		{"upper-case bucket", backupsGVR, set("spec.storageLocation", "azure://Cassandra"), []string{"spec.storageLocation", "must name a bucket"}},
		{"relative file path", backupsGVR, set("spec.storageLocation", "file://backups"), []string{"spec.storageLocation", "absolute path"}},
		{"file root only", backupsGVR, set("spec.storageLocation", "file:///"), []string{"spec.storageLocation", "absolute path"}},
		{"missing cdc", backupsGVR, unset("spec.cdc"), []string{"spec.cdc", "Required value"}},
		{"missing cluster", backupsGVR, unset("spec.cluster"), []string{"spec.cluster", "Required value"}},
		{"missing datacenter", backupsGVR, unset("spec.datacenter"), []string{"spec.datacenter", "Required value"}},
		{"missing storageLocation", backupsGVR, unset("spec.storageLocation"), []string{"spec", "set exactly one of storageLocation and locationRef"}},
		{"missing snapshotTag", backupsGVR, unset("spec.snapshotTag"), []string{"spec.snapshotTag", "Required value"}},
		{"missing spec", backupsGVR, unset("spec"), []string{"spec", "Required value"}},
		{"empty snapshotTag", backupsGVR, set("spec.snapshotTag", ""), []string{"spec.snapshotTag", "at least 1 chars long"}},
		{"snapshotTag with slash", backupsGVR, set("spec.snapshotTag", "2026/11/27"), []string{"spec.snapshotTag", "must not contain '/'"}},
		{"snapshotTag dot-dot", backupsGVR, set("spec.snapshotTag", ".."), []string{"spec.snapshotTag", "must not be '.' or '..'"}},
		{"snapshotTag with space", backupsGVR, set("spec.snapshotTag", "my tag"), []string{"spec.snapshotTag", "white space"}},
		{"cluster with slash", backupsGVR, set("spec.cluster", "a/b"), []string{"spec.cluster", "must not contain '/'"}},
		{"bad metadataDirective", backupsGVR, set("spec.metadataDirective", "MOVE"), []string{"spec.metadataDirective", `Unsupported value: "MOVE"`, `"COPY"`, `"REPLACE"`}},
		{"bad deletionPolicy", backupsGVR, set("spec.deletionPolicy", "Forget"), []string{"spec.deletionPolicy", `Unsupported value: "Forget"`, `"Retain"`, `"Delete"`}},
		{"concurrentConnections 0", backupsGVR, set("spec.concurrentConnections", int64(0)), []string{"spec.concurrentConnections", "greater than or equal to 1"}},
		{"concurrentConnections as text", backupsGVR, set("spec.concurrentConnections", "ten"), []string{"spec.concurrentConnections", "must be of type integer"}},
		{"createMissingBucket as text", backupsGVR, set("spec.createMissingBucket", "yes"), []string{"spec.createMissingBucket", "must be of type boolean"}},
		{"snapshotTag as number", backupsGVR, set("spec.snapshotTag", int64(42)), []string{"spec.snapshotTag", "must be of type string"}},
		{"negative timeout", backupsGVR, set("spec.timeout", "-5m"), []string{"spec.timeout", "positive duration"}},
		{"timeout not a duration", backupsGVR, set("spec.timeout", "soon"), []string{"spec.timeout"}},
		{"zero lifecycleExpiry", backupsGVR, set("spec.lifecycleExpiry", "0s"), []string{"spec.lifecycleExpiry", "positive duration"}},
		{"negative lifecycleExpiry", backupsGVR, set("spec.lifecycleExpiry", "-720h"), []string{"spec.lifecycleExpiry", "positive duration"}},
		{"huge lifecycleExpiry", backupsGVR, set("spec.lifecycleExpiry", "900000h"), []string{"spec.lifecycleExpiry", "at most 876000h"}},
		{"lifecycleExpiry in days", backupsGVR, set("spec.lifecycleExpiry", "30d"), []string{"spec.lifecycleExpiry"}},
		{"bandwidth not a quantity", backupsGVR, set("spec.bandwidth", "fast"), []string{"spec.bandwidth"}},
		{"bad state in status", backupsGVR, set("status.state", "DONE"), []string{"status.state", `Unsupported value: "DONE"`}},
		{"restore without backupName", dcsGVR, set("spec.restore", map[string]any{"secret": "s"}), []string{"spec.restore.backupName", "Required value"}},
		{"restore with empty backupName", dcsGVR, set("spec.restore.backupName", ""), []string{"spec.restore.backupName", "at least 1 chars long"}},
		{"rack without name", dcsGVR, set("spec.racks", []any{map[string]any{"zone": "a"}}), []string{"spec.racks[0].name", "Required value"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "bad-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
			var obj *unstructured.Unstructured
			if tc.gvr == backupsGVR {
				obj = validBackup(name)
			} else {
				obj = validDataCenter(name)
			}
			tc.mutate(obj)
			created, err := dyn.Resource(tc.gvr).Namespace(ns).Create(t.Context(), obj, metav1.CreateOptions{})
			if strings.HasPrefix(tc.name, "bad state") {
				// Status is ignored on create; it is validated through the subresource.
				if err != nil {
					t.Fatal(err)
				}
				created.Object["status"] = obj.Object["status"]
				_, err = dyn.Resource(tc.gvr).Namespace(ns).UpdateStatus(t.Context(), created, metav1.UpdateOptions{})
			}
			if err == nil {
				t.Fatalf("case %d: the API server accepted %v", i, obj.Object)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
	if len(cases) < 15 {
		t.Fatalf("only %d malformed objects", len(cases))
	}
}

// Fields that identify the remote backup cannot change after creation.
func TestImmutableFields(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	dyn := dynamic.NewForConfigOrDie(cp.Config()).Resource(backupsGVR).Namespace(ns)
	created, err := dyn.Create(t.Context(), validBackup("immutable"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for field, value := range map[string]string{
		"snapshotTag":     "otherTag",
		"storageLocation": "s3://other-bucket",
		"cluster":         "other-cluster",
		"datacenter":      "dc2",
		"cdc":             "other-cdc",
	} {
		t.Run(field, func(t *testing.T) {
			obj := created.DeepCopy()
			set("spec."+field, value)(obj)
			_, err := dyn.Update(t.Context(), obj, metav1.UpdateOptions{})
			if err == nil || !strings.Contains(err.Error(), field+" is immutable") {
				t.Fatalf("changing %s: %v", field, err)
			}
		})
	}
	// Mutable fields still change.
	obj := created.DeepCopy()
	set("spec.secret", "rotated-secret")(obj)
	set("spec.concurrentConnections", int64(4))(obj)
	if _, err := dyn.Update(t.Context(), obj, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("changing mutable fields: %v", err)
	}
}
