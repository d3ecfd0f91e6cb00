package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/e2e/guide"
)

// restoreRequest is how cluster B asks for the whole-datacenter restore and reads its
// status: our CassandraDataCenter with spec.restore, or cass-operator's
// CassandraDatacenter with the restore annotation.
type restoreRequest struct {
	// name names the variant in logs.
	name string
	// yaml is applied in cluster B's namespace.
	yaml string
	// get returns the datacenter (its cluster, datacenter name and racks) with the
	// restore's status in status.restore, nil while there is none.
	get func(ctx context.Context, ns string) (*v1alpha1.CassandraDataCenter, error)
	// after, when set, runs once the restore is COMPLETED.
	after func(t *testing.T, ctx context.Context, ns string)
}

// cassDatacenterYAML is a cass-operator CassandraDatacenter of three racks of one node,
// whose new pods restore the guide's backup: the restore is asked for by the annotation,
// there is no CassandraDataCenter of ours.
const cassDatacenterYAML = `apiVersion: cassandra.datastax.com/v1beta1
kind: CassandraDatacenter
metadata:
  name: dc1
  annotations:
    ` + cassdc.AnnotationRestoreFrom + `: ` + backupName + `
spec:
  clusterName: test-cluster
  serverType: cassandra
  serverVersion: "4.1.5"
  size: 3
  racks:
  - name: west1-a
  - name: west1-b
  - name: west1-c
  storageConfig:
    cassandraDataVolumeClaimSpec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Gi
`

// startCassOperatorCluster starts a control plane with cass-operator's CassandraDatacenter
// CRD (generated from its Go types by hack/tools.sh thirdparty-crds) and our CRDs except
// CassandraDataCenter: the operator must run without it.
func startCassOperatorCluster(t *testing.T) *controlplane.ControlPlane {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	third, err := controlplane.ToolPath("thirdparty-crds")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ours, err := filepath.Glob(filepath.Join(root, "manifests", "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := append(ours, filepath.Join(third, "cassandra.datastax.com_cassandradatacenters.yaml"))
	skipped := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "name: cassandradatacenters.cassandraoperator.instaclustr.com") {
			skipped = true
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !skipped {
		t.Fatal("manifests/crds has no CassandraDataCenter CRD to leave out")
	}
	cp, err := controlplane.Start(t.Context(), controlplane.Options{CRDDir: dir})
	if err != nil {
		t.Fatalf("control plane with cass-operator's CRD: %v", err)
	}
	t.Cleanup(cp.Stop)
	return cp
}

// cassOperatorRequest asks for the restore with the annotation on a CassandraDatacenter
// of cluster cp, and reads the status the operator writes into its status annotation.
func cassOperatorRequest(t *testing.T, cp *controlplane.ControlPlane) *restoreRequest {
	dyn, err := dynamic.NewForConfig(cp.Config())
	if err != nil {
		t.Fatal(err)
	}
	return &restoreRequest{name: "annotation", yaml: cassDatacenterYAML, get: func(ctx context.Context, ns string) (*v1alpha1.CassandraDataCenter, error) {
		u, err := dyn.Resource(cassdc.GVR).Namespace(ns).Get(ctx, "dc1", metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		n := int32(3)
		dc := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: "dc1", Namespace: ns},
			Spec: v1alpha1.CassandraDataCenterSpec{Cluster: cluster, Datacenter: dcName, Nodes: &n,
				Racks: []v1alpha1.Rack{{Name: "west1-a"}, {Name: "west1-b"}, {Name: "west1-c"}}}}
		if raw := u.GetAnnotations()[cassdc.AnnotationRestoreStatus]; raw != "" {
			dc.Status.Restore = &v1alpha1.RestoreStatus{}
			if err := json.Unmarshal([]byte(raw), dc.Status.Restore); err != nil {
				return nil, err
			}
		}
		return dc, nil
	}, after: func(t *testing.T, ctx context.Context, ns string) { refusesNewRestore(t, ctx, cp, dyn, ns) }}
}

// refusesNewRestore changes the restore annotation of the restored CassandraDatacenter:
// the change is refused with a Warning event and the Synced condition, the plan stays
// as it is and the restore stays COMPLETED.
func refusesNewRestore(t *testing.T, ctx context.Context, cp *controlplane.ControlPlane, dyn dynamic.Interface, ns string) {
	t.Helper()
	kube, err := kubernetes.NewForConfig(cp.Config())
	if err != nil {
		t.Fatal(err)
	}
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, plan.ConfigMapName("dc1"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"annotations":{"` + cassdc.AnnotationRestoreFrom + `":"another-backup"}}}`)
	if _, err := dyn.Resource(cassdc.GVR).Namespace(ns).Patch(ctx, "dc1", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	err = guide.Poll(ctx, "the changed annotation to be refused", deadline, func() (bool, error) {
		evs, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + restore.ReasonRestoreImmutable})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == cassdc.Kind && e.InvolvedObject.Name == "dc1" && e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, "another-backup") {
				return true, nil
			}
		}
		return false, fmt.Errorf("%d %s events", len(evs.Items), restore.ReasonRestoreImmutable)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The event is recorded before the status annotation is written: wait for the status.
	var st v1alpha1.RestoreStatus
	err = guide.Poll(ctx, "the status annotation to say the change was refused", deadline, func() (bool, error) {
		u, err := dyn.Resource(cassdc.GVR).Namespace(ns).Get(ctx, "dc1", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st = v1alpha1.RestoreStatus{}
		if err := json.Unmarshal([]byte(u.GetAnnotations()[cassdc.AnnotationRestoreStatus]), &st); err != nil {
			return false, err
		}
		synced := apimeta.FindStatusCondition(st.Conditions, "Synced")
		return synced != nil && synced.Reason == restore.ReasonRestoreImmutable, nil
	})
	if err != nil {
		t.Fatalf("%v; status: %+v", err, st)
	}
	if st.State != v1alpha1.RestoreCompleted || st.BackupName != backupName {
		t.Errorf("status after the refused change: %+v", st)
	}
	after, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, cm.Name, metav1.GetOptions{})
	if err != nil || after.ResourceVersion != cm.ResourceVersion {
		t.Errorf("the plan changed: resourceVersion %s → %v (%v)", cm.ResourceVersion, after, err)
	}
}
