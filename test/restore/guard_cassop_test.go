package restore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
)

// TestOperatorDownGuardsCassOperatorRestores applies the shipped restore guard for
// cass-operator's CassandraDatacenters (manifests/webhook/restoreguard-cassoperator.yaml) to
// a control plane with cass-operator's CRD, generated from its Go types, and no operator
// or webhook at all: a pod of a datacenter whose restore is requested by the annotation is
// denied unless it carries the restore init container, is outside the plan the status
// annotation lists, or the restore has COMPLETED; pods of other datacenters are admitted.
func TestOperatorDownGuardsCassOperatorRestores(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	cp := cassOperatorPlane(t, ctx)
	kube := kubernetes.NewForConfigOrDie(cp.Config())
	dyn := dynamic.NewForConfigOrDie(cp.Config())
	e := &env{t: t, ctx: ctx, cp: cp, kube: kube, ns: cp.Namespace(t)}

	policy, binding := loadRestoreGuard(t, "restoreguard-cassoperator.yaml", e.ns)
	if _, err := kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	cassDC := func(name, datacenterName string, annotations map[string]any) {
		spec := map[string]any{"clusterName": "c1", "serverType": "cassandra", "serverVersion": "4.1.5", "size": int64(3), "storageConfig": map[string]any{}}
		if datacenterName != "" {
			spec["datacenterName"] = datacenterName
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": cassdc.GVR.GroupVersion().String(), "kind": cassdc.Kind,
			"metadata": map[string]any{"name": name, "annotations": annotations}, "spec": spec,
		}}
		if _, err := dyn.Resource(cassdc.GVR).Namespace(e.ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setStatus := func(name string, st v1alpha1.RestoreStatus) {
		raw, err := cassdc.EncodeStatus(&st)
		if err != nil {
			t.Fatal(err)
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{cassdc.AnnotationRestoreStatus: raw}}})
		if _, err := dyn.Resource(cassdc.GVR).Namespace(e.ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A pod as cass-operator names and labels it; init: with the restore init container.
	createPod := func(name, datacenter string, init bool) error {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				"cassandra.datastax.com/cluster": "c1", "cassandra.datastax.com/datacenter": datacenter, "cassandra.datastax.com/rack": "r1"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "cassandra", Image: "cassandra:4.1"}}},
		}
		if init {
			pod.Spec.InitContainers = []corev1.Container{{Name: plan.InitContainerName, Image: "ghcr.io/cassbackup/cassandra-backup-agent:test"}}
		}
		_, err := kube.CoreV1().Pods(e.ns).Create(ctx, pod, metav1.CreateOptions{})
		return err
	}

	cassDC("plain", "", nil)
	cassDC("restoring", "", map[string]any{cassdc.AnnotationRestoreFrom: "b1"})
	cassDC("renamed", "dc-east", map[string]any{cassdc.AnnotationRestoreFrom: "b2"})
	const reason = "of CassandraDatacenter restoring, which restores backup b1, has no restore init container"

	i := 0
	e.poll("the restore guard to deny a restoring pod", func() (bool, error) {
		i++
		err := createPod(fmt.Sprintf("c1-restoring-r1-sts-probe-%d", i), "restoring", false)
		if err == nil {
			return false, nil
		}
		return strings.Contains(err.Error(), reason), err
	})
	if err := createPod("c1-plain-r1-sts-0", "plain", false); err != nil {
		t.Fatalf("a pod of a datacenter without a restore: %v", err)
	}
	if err := createPod("c1-restoring-r1-sts-0", "restoring", true); err != nil {
		t.Fatalf("a restoring pod with its init container: %v", err)
	}
	// The pod's datacenter label is spec.datacenterName when it is set.
	if err := createPod("c1-dc-east-r1-sts-0", "dc-east", false); err == nil || !strings.Contains(err.Error(), "which restores backup b2") {
		t.Fatalf("a pod of a restoring datacenter named by spec.datacenterName: %v, want a denial", err)
	}

	// Planned: only the pods the status lists wait.
	setStatus("restoring", v1alpha1.RestoreStatus{State: v1alpha1.RestorePlanned, BackupName: "b1",
		Nodes: []v1alpha1.NodeRestoreStatus{{Pod: "c1-restoring-r1-sts-2", State: v1alpha1.RestorePlanned}}})
	e.poll("the guard to see the plan", func() (bool, error) {
		i++
		return createPod(fmt.Sprintf("c1-restoring-r1-sts-extra-%d", i), "restoring", false) == nil, nil
	})
	if err := createPod("c1-restoring-r1-sts-2", "restoring", false); err == nil || !strings.Contains(err.Error(), reason) {
		t.Fatalf("a planned pod without its init container: %v, want a denial saying %q", err, reason)
	}
	// One pod COMPLETED is not the restore COMPLETED: the others still wait. The plan now
	// lists probe pods too, so the guard has seen this status once a probe is denied.
	running := v1alpha1.RestoreStatus{State: v1alpha1.RestoreRunning, BackupName: "b1",
		Nodes: []v1alpha1.NodeRestoreStatus{{Pod: "c1-restoring-r1-sts-1", State: v1alpha1.RestoreCompleted}, {Pod: "c1-restoring-r1-sts-2", State: v1alpha1.RestoreRunning}}}
	for p := range 40 {
		running.Nodes = append(running.Nodes, v1alpha1.NodeRestoreStatus{Pod: fmt.Sprintf("c1-restoring-r1-sts-p%d", p), State: v1alpha1.RestorePlanned})
	}
	setStatus("restoring", running)
	p := 0
	e.poll("the guard to see one pod restored and the others planned", func() (bool, error) {
		if p == 40 {
			return false, fmt.Errorf("every listed probe pod was admitted")
		}
		err := createPod(fmt.Sprintf("c1-restoring-r1-sts-p%d", p), "restoring", false)
		p++
		return err != nil && strings.Contains(err.Error(), reason), nil
	})
	if err := createPod("c1-restoring-r1-sts-2", "restoring", false); err == nil || !strings.Contains(err.Error(), reason) {
		t.Fatalf("a planned pod of a RUNNING restore, another pod COMPLETED: %v, want a denial saying %q", err, reason)
	}
	// A COMPLETED restore of another backup neither ends this one nor is its plan: every
	// pod waits again, the ones the old plan did not list too.
	setStatus("restoring", v1alpha1.RestoreStatus{State: v1alpha1.RestoreCompleted, BackupName: "b0",
		Nodes: []v1alpha1.NodeRestoreStatus{{Pod: "c1-restoring-r1-sts-2", State: v1alpha1.RestoreCompleted}}})
	e.poll("the guard to see the other backup's status", func() (bool, error) {
		i++
		err := createPod(fmt.Sprintf("c1-restoring-r1-sts-extra-%d", i), "restoring", false)
		return err != nil && strings.Contains(err.Error(), reason), nil
	})
	// COMPLETED: pods start as usual.
	setStatus("restoring", v1alpha1.RestoreStatus{State: v1alpha1.RestoreCompleted, BackupName: "b1",
		Nodes: []v1alpha1.NodeRestoreStatus{{Pod: "c1-restoring-r1-sts-2", State: v1alpha1.RestoreCompleted}}})
	e.poll("the guard to see the restore completed", func() (bool, error) {
		return createPod("c1-restoring-r1-sts-2", "restoring", false) == nil, nil
	})
}
