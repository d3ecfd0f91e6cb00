package restore_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// loadRestoreGuard reads a restore guard (ValidatingAdmissionPolicy and binding) from
// manifests/webhook/<file>, named for this test and bound to namespace ns only.
func loadRestoreGuard(t *testing.T, file, ns string) (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "manifests", "webhook", file))
	if err != nil {
		t.Fatal(err)
	}
	var policy admissionregistrationv1.ValidatingAdmissionPolicy
	var binding admissionregistrationv1.ValidatingAdmissionPolicyBinding
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for _, into := range []any{&policy, &binding} {
		doc, err := r.Read()
		if err != nil {
			t.Fatalf("manifests/webhook/%s: %v", file, err)
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Fatalf("manifests/webhook/%s: %v", file, err)
		}
	}
	if policy.Kind != "ValidatingAdmissionPolicy" || binding.Kind != "ValidatingAdmissionPolicyBinding" || binding.Spec.PolicyName != policy.Name {
		t.Fatalf("manifests/webhook/%s holds %s %s and %s %s", file, policy.Kind, policy.Name, binding.Kind, binding.Name)
	}
	policy.Name = strings.TrimSuffix(file, ".yaml") + "-" + ns
	binding.Name, binding.Spec.PolicyName = policy.Name, policy.Name
	binding.Spec.MatchResources.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	return &policy, &binding
}

// TestOperatorDownAdmitsAllButRestoringPods runs the shipped webhook configuration and
// restore guard with the operator failing, then stopped: pods of datacenters that do not
// restore are created; a pod of a restoring datacenter is denied with the reason unless
// it carries the restore init container, is outside the restore's plan or the restore
// has COMPLETED.
func TestOperatorDownAdmitsAllButRestoringPods(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	cp := controlplane.Shared(t)
	kube := kubernetes.NewForConfigOrDie(cp.Config())
	client := versioned.NewForConfigOrDie(cp.Config())
	e := &env{t: t, ctx: ctx, cp: cp, kube: kube, client: client, ns: cp.Namespace(t)}

	// An operator that answers every admission review with a 500, and counts the calls.
	var calls atomic.Int32
	broken := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer broken.Close()
	cfg := loadWebhookManifest(t, "guard-"+e.ns, broken.URL+webhook.DefaultPath, e.ns)
	cfg.Webhooks[0].ClientConfig.CABundle = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: broken.Certificate().Raw})
	if _, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, cfg.Name, metav1.DeleteOptions{})
	})
	policy, binding := loadRestoreGuard(t, "restoreguard.yaml", e.ns)
	if _, err := kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kube.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{})
		kube.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(ctx, policy.Name, metav1.DeleteOptions{})
	})

	plain := e.datacenter("plain", "source", 3, nil)
	restoring := e.datacenter("restoring", "clone", 3, &v1alpha1.RestoreSpec{BackupName: "b1"})
	const reason = "of CassandraDataCenter restoring, which restores backup b1, has no restore init container"

	// The restore guard becomes active: the restoring datacenter's pod is denied by it.
	i := 0
	e.poll("the restore guard to deny a restoring pod", func() (bool, error) {
		i++
		_, err := e.createPod(fmt.Sprintf("cassandra-restoring-probe-%d", i), restoring)
		if err == nil {
			return false, nil
		}
		return strings.Contains(err.Error(), reason), err
	})
	// The webhook configuration is active: the API server calls the failing operator.
	e.poll("the API server to call the webhook", func() (bool, error) {
		i++
		_, err := e.createPod(fmt.Sprintf("cassandra-plain-probe-%d", i), plain)
		return calls.Load() > 0, err
	})
	if _, err := e.createPod("cassandra-plain-rack1-0", plain); err != nil {
		t.Fatalf("a pod of a datacenter without spec.restore, with the operator failing: %v", err)
	}

	// The operator stopped: nothing listens any more.
	broken.Close()
	before := calls.Load()
	if _, err := e.createPod("cassandra-plain-rack1-1", plain); err != nil {
		t.Fatalf("a pod of a datacenter without spec.restore, with the operator stopped: %v", err)
	}
	if _, err := e.createPod("cassandra-restoring-rack1-0", restoring); err == nil || !strings.Contains(err.Error(), reason) {
		t.Fatalf("a pod of a restoring datacenter without its init container, operator stopped: %v, want a denial saying %q", err, reason)
	}
	if calls.Load() != before {
		t.Fatalf("a stopped operator answered")
	}
	// A pod with the init container (the webhook added it) passes the guard.
	pod := cassandraPod("cassandra-restoring-rack1-1", restoring)
	pod.Spec.InitContainers = []corev1.Container{{Name: plan.InitContainerName, Image: "ghcr.io/cassbackup/cassandra-backup-agent:test"}}
	if _, err := kube.CoreV1().Pods(e.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a restoring pod with its init container: %v", err)
	}

	// Planned: only the pods the plan lists wait; others are admitted (as the webhook does).
	e.setRestoreStatus("restoring", v1alpha1.RestoreStatus{State: v1alpha1.RestorePlanned, BackupName: "b1",
		Nodes: []v1alpha1.NodeRestoreStatus{{Pod: "cassandra-restoring-rack1-2", State: v1alpha1.RestorePlanned}}})
	e.poll("the guard to see the plan", func() (bool, error) {
		i++
		_, err := e.createPod(fmt.Sprintf("cassandra-restoring-extra-%d", i), restoring)
		return err == nil, err
	})
	if _, err := e.createPod("cassandra-restoring-rack1-2", restoring); err == nil || !strings.Contains(err.Error(), reason) {
		t.Fatalf("a planned pod without its init container: %v, want a denial saying %q", err, reason)
	}
	// COMPLETED: the restore is over, pods start as usual.
	e.setRestoreStatus("restoring", v1alpha1.RestoreStatus{State: v1alpha1.RestoreCompleted, BackupName: "b1",
		Nodes: []v1alpha1.NodeRestoreStatus{{Pod: "cassandra-restoring-rack1-2", State: v1alpha1.RestoreCompleted}}})
	e.poll("the guard to see the restore completed", func() (bool, error) {
		_, err := e.createPod("cassandra-restoring-rack1-2", restoring)
		return err == nil, err
	})
}

// setRestoreStatus writes a datacenter's status.restore.
func (e *env) setRestoreStatus(name string, st v1alpha1.RestoreStatus) {
	e.t.Helper()
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"restore": st}})
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Patch(e.ctx, name, "application/merge-patch+json", patch, metav1.PatchOptions{}, "status"); err != nil {
		e.t.Fatal(err)
	}
}
