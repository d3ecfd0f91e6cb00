// Package cassdc reads cass-operator's CassandraDatacenter (cassandra.datastax.com/v1beta1)
// as unstructured data, without cass-operator's Go module: the few fields a
// whole-datacenter restore needs (spec.clusterName, spec.datacenterName, spec.size,
// spec.racks[].name), the annotations by which a user asks for the restore, and the
// status annotation the operator writes back.
//
// View adapts such an object to the CassandraDataCenter the restore controller and the
// webhook plan and admit with: the same planning, status and admission code serves both
// kinds, and the view keeps the object's own API version, kind and uid, so events land on
// the user's object and the plan ConfigMap is owned (and collected) by it.
package cassdc

import (
	"encoding/json"
	"fmt"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

// GVR is cass-operator's CassandraDatacenter resource.
var GVR = schema.GroupVersionResource{Group: "cassandra.datastax.com", Version: "v1beta1", Resource: "cassandradatacenters"}

// Kind is the kind of GVR.
const Kind = "CassandraDatacenter"

// Annotations on a CassandraDatacenter. They share the prefix of the operator's other
// annotations (profile.Annotation, the restore key on pods).
const (
	// AnnotationRestoreFrom names the CassandraBackup (in the datacenter's namespace) whose
	// nodes the datacenter's new pods restore: spec.restore.backupName of a
	// CassandraDataCenter. Once the plan is made, a changed value is refused with an event.
	AnnotationRestoreFrom = "cassandraoperator.instaclustr.com/restore-from"
	// AnnotationRestoreSecret names the Secret with the storage credentials, when it is not
	// the backup's: spec.restore.secret of a CassandraDataCenter.
	AnnotationRestoreSecret = "cassandraoperator.instaclustr.com/restore-secret"
	// AnnotationRestoreRenameDatacenter "true" is spec.restore.renameDatacenter: the backup
	// may be of a datacenter of another name, and the restored keyspaces' replication is
	// rewritten to name this one.
	AnnotationRestoreRenameDatacenter = "cassandraoperator.instaclustr.com/restore-rename-datacenter"
	// AnnotationRestoreStatus is written by the operator: the restore's status as JSON, the
	// status.restore of a CassandraDataCenter (cass-operator's CRD would prune a status
	// field of ours).
	AnnotationRestoreStatus = "cassandraoperator.instaclustr.com/restore-status"
)

// DefaultRack is the rack cass-operator gives a datacenter that declares none.
const DefaultRack = "default"

// MaxStatusBytes bounds the status annotation: above it the per-pod list is left out
// (the pods' events still tell each one); all annotations of an object share 256 KiB.
const MaxStatusBytes = 64 * 1024

// View returns u as a CassandraDataCenter of the cass-operator profile: its name,
// namespace, uid, generation, creation time, labels and annotations; spec.cluster,
// spec.datacenter, spec.nodes and spec.racks from its spec; spec.restore from
// AnnotationRestoreFrom and AnnotationRestoreSecret; status.restore from AnnotationRestoreStatus. A spec field of
// the wrong type is an error; a status annotation that does not decode is ignored (it
// is written again).
func View(u *unstructured.Unstructured) (*v1alpha1.CassandraDataCenter, error) {
	dc := &v1alpha1.CassandraDataCenter{
		TypeMeta: metav1.TypeMeta{APIVersion: GVR.GroupVersion().String(), Kind: Kind},
		ObjectMeta: metav1.ObjectMeta{
			Name: u.GetName(), Namespace: u.GetNamespace(), UID: u.GetUID(), Generation: u.GetGeneration(),
			ResourceVersion: u.GetResourceVersion(), CreationTimestamp: u.GetCreationTimestamp(),
			Annotations: maps.Clone(u.GetAnnotations()), Labels: maps.Clone(u.GetLabels()),
		},
	}
	if dc.Annotations == nil {
		dc.Annotations = map[string]string{}
	}
	if _, ok := dc.Annotations[profile.Annotation]; !ok {
		dc.Annotations[profile.Annotation] = profile.CassOperator
	}
	var err error
	if dc.Spec.Cluster, _, err = unstructured.NestedString(u.Object, "spec", "clusterName"); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", Kind, u.GetNamespace(), u.GetName(), err)
	}
	if dc.Spec.Datacenter, _, err = unstructured.NestedString(u.Object, "spec", "datacenterName"); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", Kind, u.GetNamespace(), u.GetName(), err)
	}
	if dc.Spec.Datacenter == "" {
		dc.Spec.Datacenter = u.GetName() // cass-operator names the datacenter after the object
	}
	size, found, err := unstructured.NestedInt64(u.Object, "spec", "size")
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", Kind, u.GetNamespace(), u.GetName(), err)
	}
	if found {
		n := int32(size)
		dc.Spec.Nodes = &n
	}
	racks, _, err := unstructured.NestedSlice(u.Object, "spec", "racks")
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", Kind, u.GetNamespace(), u.GetName(), err)
	}
	for i, r := range racks {
		m, ok := r.(map[string]any)
		name, _ := m["name"].(string)
		if !ok || name == "" {
			return nil, fmt.Errorf("%s %s/%s: spec.racks[%d] has no name", Kind, u.GetNamespace(), u.GetName(), i)
		}
		dc.Spec.Racks = append(dc.Spec.Racks, v1alpha1.Rack{Name: name})
	}
	if len(dc.Spec.Racks) == 0 {
		dc.Spec.Racks = []v1alpha1.Rack{{Name: DefaultRack}}
	}
	if from := dc.Annotations[AnnotationRestoreFrom]; from != "" {
		dc.Spec.Restore = &v1alpha1.RestoreSpec{BackupName: from, Secret: dc.Annotations[AnnotationRestoreSecret],
			RenameDatacenter: dc.Annotations[AnnotationRestoreRenameDatacenter] == "true"}
	}
	if raw := dc.Annotations[AnnotationRestoreStatus]; raw != "" {
		var st v1alpha1.RestoreStatus
		if json.Unmarshal([]byte(raw), &st) == nil {
			dc.Status.Restore = &st
		}
	}
	return dc, nil
}

// EncodeStatus returns the status annotation's value for st ("" for nil): its JSON,
// without the per-pod list when that would exceed MaxStatusBytes.
func EncodeStatus(st *v1alpha1.RestoreStatus) (string, error) {
	if st == nil {
		return "", nil
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("encode restore status: %w", err)
	}
	if len(raw) > MaxStatusBytes {
		short := *st
		short.Nodes = nil
		if raw, err = json.Marshal(&short); err != nil {
			return "", fmt.Errorf("encode restore status: %w", err)
		}
	}
	return string(raw), nil
}
