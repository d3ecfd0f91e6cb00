package cassdc

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

func object(spec map[string]any, annotations map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cassandra.datastax.com/v1beta1", "kind": Kind,
		"metadata": map[string]any{"name": "dc1", "namespace": "ns", "uid": "u-1", "generation": int64(4), "annotations": annotations},
		"spec":     spec,
	}}
}

func TestView(t *testing.T) {
	u := object(map[string]any{"clusterName": "My Cluster", "size": int64(6), "racks": []any{map[string]any{"name": "r1"}, map[string]any{"name": "r2"}}},
		map[string]any{AnnotationRestoreFrom: "b1", AnnotationRestoreSecret: "s1",
			AnnotationRestoreStatus: `{"state":"RUNNING","backupName":"b1","nodes":[{"pod":"p","sourceNode":"n","state":"COMPLETED"}]}`})
	dc, err := View(u)
	if err != nil {
		t.Fatal(err)
	}
	if dc.Kind != Kind || dc.APIVersion != "cassandra.datastax.com/v1beta1" || dc.UID != "u-1" || dc.Generation != 4 {
		t.Errorf("meta: %+v %+v", dc.TypeMeta, dc.ObjectMeta)
	}
	if dc.Spec.Cluster != "My Cluster" || dc.Spec.Datacenter != "dc1" || *dc.Spec.Nodes != 6 || len(dc.Spec.Racks) != 2 || dc.Spec.Racks[1].Name != "r2" {
		t.Errorf("spec: %+v", dc.Spec)
	}
	if r := dc.Spec.Restore; r == nil || !reflect.DeepEqual(*r, v1alpha1.RestoreSpec{BackupName: "b1", Secret: "s1"}) {
		t.Errorf("restore: %+v", r)
	}
	if st := dc.Status.Restore; st == nil || st.State != v1alpha1.RestoreRunning || len(st.Nodes) != 1 || st.Nodes[0].State != v1alpha1.RestoreCompleted {
		t.Errorf("status: %+v", st)
	}
	if dc.Annotations[profile.Annotation] != profile.CassOperator {
		t.Errorf("profile annotation %q", dc.Annotations[profile.Annotation])
	}
	if _, ok := u.GetAnnotations()[profile.Annotation]; ok {
		t.Error("View changed the object's annotations")
	}
}

func TestViewDefaults(t *testing.T) {
	dc, err := View(object(map[string]any{"clusterName": "c", "datacenterName": "east", "size": int64(3)}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if dc.Spec.Restore != nil || dc.Status.Restore != nil || dc.Spec.Datacenter != "east" || len(dc.Spec.Racks) != 1 || dc.Spec.Racks[0].Name != DefaultRack {
		t.Errorf("%+v %+v", dc.Spec, dc.Status)
	}
}

// TestViewRenameDatacenter: the rename annotation is spec.restore.renameDatacenter, and
// only "true" turns it on.
func TestViewRenameDatacenter(t *testing.T) {
	for value, want := range map[string]bool{"true": true, "false": false, "yes": false} {
		dc, err := View(object(map[string]any{"clusterName": "c", "datacenterName": "east"},
			map[string]any{AnnotationRestoreFrom: "b1", AnnotationRestoreRenameDatacenter: value}))
		if err != nil {
			t.Fatal(err)
		}
		if dc.Spec.Restore == nil || dc.Spec.Restore.RenameDatacenter != want {
			t.Errorf("%q: restore %+v, want renameDatacenter %v", value, dc.Spec.Restore, want)
		}
	}
}

func TestViewRefusesMalformedSpec(t *testing.T) {
	for name, spec := range map[string]map[string]any{
		"size not a number":  {"clusterName": "c", "size": "three"},
		"rack without name":  {"clusterName": "c", "racks": []any{map[string]any{}}},
		"rack not an object": {"clusterName": "c", "racks": []any{"r1"}},
		"cluster not text":   {"clusterName": int64(1)},
	} {
		if _, err := View(object(spec, nil)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestEncodeStatusBounded(t *testing.T) {
	st := &v1alpha1.RestoreStatus{State: v1alpha1.RestoreRunning, BackupName: "b"}
	for i := range 2000 {
		st.Nodes = append(st.Nodes, v1alpha1.NodeRestoreStatus{Pod: "pod-" + strings.Repeat("x", 40), SourceNode: "n", State: v1alpha1.RestorePending, Message: "waiting for the pod to be created " + string(rune('a'+i%26))})
	}
	raw, err := EncodeStatus(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > MaxStatusBytes || !strings.Contains(raw, `"state":"RUNNING"`) || strings.Contains(raw, "pod-") {
		t.Errorf("%d bytes: %.200s", len(raw), raw)
	}
	if len(st.Nodes) != 2000 {
		t.Error("EncodeStatus changed its argument")
	}
	small, _ := EncodeStatus(&v1alpha1.RestoreStatus{State: v1alpha1.RestoreCompleted, Nodes: st.Nodes[:2]})
	if !strings.Contains(small, "pod-") {
		t.Errorf("small status lost its nodes: %s", small)
	}
	if s, _ := EncodeStatus(nil); s != "" {
		t.Errorf("nil: %q", s)
	}
}
