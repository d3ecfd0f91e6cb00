package restore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2/ktesting"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// cassOperatorPlane starts a control plane of the test's own with cass-operator's
// CassandraDatacenter CRD (generated from its Go types) established.
func cassOperatorPlane(t *testing.T, ctx context.Context) *controlplane.ControlPlane {
	t.Helper()
	cp, err := controlplane.Start(ctx, controlplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	dir, err := controlplane.ToolPath("thirdparty-crds")
	if err != nil {
		t.Fatal(err)
	}
	crd := filepath.Join(dir, "cassandra.datastax.com_cassandradatacenters.yaml")
	if out, err := cp.Kubectl(ctx, nil, "apply", "--server-side", "-f", crd); err != nil {
		t.Fatalf("cass-operator's CRD: %v\n%s", err, out)
	}
	// kubectl wait fails at once while the new CRD has no conditions yet: ask again.
	e := &env{t: t, ctx: ctx}
	e.poll("cass-operator's CRD to be established", func() (bool, error) {
		out, err := cp.Kubectl(ctx, nil, "wait", "--for=condition=Established", "--timeout=10s", "crd/cassandradatacenters.cassandra.datastax.com")
		if err != nil {
			return false, fmt.Errorf("%w: %s", err, out)
		}
		return true, nil
	})
	return cp
}

// TestCassOperatorRenameRefused: the rename refusal and its opt-in reach restores asked by
// the annotation on cass-operator's CassandraDatacenter (the CassandraDatacenter
// controller over a control plane with cass-operator's CRD). A datacenter named dc2 (no
// datacenterName) restoring a backup of dc1 is refused with DatacenterRenamed in the status
// annotation and a Warning event; with the rename annotation the check passes and the plan
// goes on to read the bucket (unreadable here: an empty local location).
func TestCassOperatorRenameRefused(t *testing.T) {
	_, tctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(tctx)
	defer cancel()
	cp := cassOperatorPlane(t, ctx)
	e := &env{t: t, ctx: ctx, cp: cp, kube: kubernetes.NewForConfigOrDie(cp.Config()), client: versioned.NewForConfigOrDie(cp.Config()), ns: cp.Namespace(t)}
	dyn := dynamic.NewForConfigOrDie(cp.Config())
	set := informers.New(e.kube, e.client, informers.Config{Namespaces: []string{e.ns}, Kinds: informers.Kinds{CassOperatorDatacenters: true}, Dynamic: dyn})
	scheme := runtime.NewScheme()
	kubescheme.AddToScheme(scheme)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.kube.CoreV1().Events("")})
	t.Cleanup(broadcaster.Shutdown)
	deps := operator.Deps{KubeClient: e.kube, Client: e.client, Informers: set, Dynamic: dyn,
		Recorder: broadcaster.NewRecorder(scheme, corev1.EventSource{Component: operator.Name})}
	c, err := restore.NewCassDatacentersWithOptions(deps, restore.Options{Recheck: time.Second, IdlePoll: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	set.Start(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, 1) }()
	t.Cleanup(func() { cancel(); <-done; set.Shutdown() })

	// A local location with nothing in it: the plan cannot read the backup (no traffic leaves).
	e.backupObject("b1", "file://"+t.TempDir()+"/bucket", "snap", "c1", "dc1", v1alpha1.BackupCompleted)
	create := func(name string, annotations map[string]any) {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": cassdc.GVR.GroupVersion().String(), "kind": cassdc.Kind,
			"metadata": map[string]any{"name": name, "annotations": annotations},
			"spec":     map[string]any{"clusterName": "c1", "serverType": "cassandra", "serverVersion": "4.1.5", "size": int64(1), "storageConfig": map[string]any{}},
		}}
		if _, err := dyn.Resource(cassdc.GVR).Namespace(e.ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	readyOf := func(name string) (*metav1.Condition, error) {
		u, err := dyn.Resource(cassdc.GVR).Namespace(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		var st v1alpha1.RestoreStatus
		raw := u.GetAnnotations()[cassdc.AnnotationRestoreStatus]
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return nil, fmt.Errorf("status annotation %q: %v", raw, err)
		}
		return meta.FindStatusCondition(st.Conditions, reconciler.TypeReady), fmt.Errorf("status %s", raw)
	}

	create("dc2", map[string]any{cassdc.AnnotationRestoreFrom: "b1"})
	create("dc3", map[string]any{cassdc.AnnotationRestoreFrom: "b1", cassdc.AnnotationRestoreRenameDatacenter: "true"})
	e.poll("dc2's refusal", func() (bool, error) {
		c, err := readyOf("dc2")
		return c != nil && c.Reason == restore.ReasonDatacenterRenamed && strings.Contains(c.Message, cassdc.AnnotationRestoreRenameDatacenter), err
	})
	e.poll("the Warning event on dc2", func() (bool, error) {
		evs, err := e.kube.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=dc2"})
		for _, ev := range evs.Items {
			if ev.Reason == restore.ReasonDatacenterRenamed && ev.Type == corev1.EventTypeWarning {
				return true, nil
			}
		}
		return false, err
	})
	e.poll("dc3 past the rename check", func() (bool, error) {
		c, err := readyOf("dc3")
		return c != nil && c.Reason != restore.ReasonDatacenterRenamed, err
	})
	if c, _ := readyOf("dc3"); c.Reason != restore.ReasonBackupUnreadable {
		t.Errorf("dc3: Ready %+v, want %s", c, restore.ReasonBackupUnreadable)
	}
}
