package manifests_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// warnings collects the API server's warning headers.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, msg)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

// TestSampleStatefulSetIsRestricted applies the sample StatefulSet server-side (dry run)
// into a namespace that enforces and warns on the "restricted" Pod Security Standard: no
// warning about its pod template; its first pod, and the same pod as the webhook mutates
// it for a restore, are admitted; with the init container's securityContext removed, the
// mutated pod is rejected.
func TestSampleStatefulSetIsRestricted(t *testing.T) {
	cp := controlplane.Shared(t)
	ctx := t.Context()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cp.Config()
	w := &warnings{}
	cfg.WarningHandler = w
	kube := kubernetes.NewForConfigOrDie(cfg)
	ns := cp.Namespace(t)
	label := `{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted","pod-security.kubernetes.io/enforce-version":"latest","pod-security.kubernetes.io/warn":"restricted","pod-security.kubernetes.io/warn-version":"latest"}}}`
	if _, err := kube.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(label), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	// TestKustomizationApplies installed the operator's webhook configuration, with no
	// operator behind it (failurePolicy Fail): it would refuse every labelled pod.
	kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, "cassandra-backup-operator", metav1.DeleteOptions{})
	w.take()

	data, err := os.ReadFile(filepath.Join(root, "manifests", "samples", "cassandra-statefulset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sts appsv1.StatefulSet
	if err := yaml.UnmarshalStrict(data, &sts); err != nil {
		t.Fatal(err)
	}
	sts.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}
	body, _ := json.Marshal(&sts)
	force := true
	if _, err := kube.AppsV1().StatefulSets(ns).Patch(ctx, sts.Name, types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: "samples-test", Force: &force, DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("server-side apply of the sample StatefulSet: %v", err)
	}
	if got := w.take(); len(got) != 0 {
		t.Errorf("the sample StatefulSet draws warnings: %q", got)
	}

	// Its first pod, as the StatefulSet controller would make it.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: sts.Name + "-0", Namespace: ns, Labels: sts.Spec.Template.Labels},
		Spec:       *sts.Spec.Template.Spec.DeepCopy(),
	}
	for _, c := range sts.Spec.VolumeClaimTemplates {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name + "-" + pod.Name}}})
	}
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, pod, dryRun); err != nil {
		t.Fatalf("the sample's pod: %v", err)
	}

	// The same pod as the webhook mutates it for a restore.
	dc := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: "test-dc-cassandra", Namespace: ns},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: "test-cluster", Datacenter: "dc1", Restore: &v1alpha1.RestoreSpec{BackupName: "b1"}}}
	p := &plan.Plan{Name: plan.ConfigMapName(dc.Name), Restore: *dc.Spec.Restore, Backup: "b1", StorageLocation: "s3://bucket", SnapshotTag: "t1",
		SourceCluster: "test-cluster", SourceDatacenter: "dc1", Secret: "cloud-backup-secrets",
		Pods: map[string]plan.PodPlan{pod.Name: {SourceNode: "src-0", HostID: "0f0c2a4e-0000-4000-8000-000000000001", RestoreKey: "k", Tokens: []string{"1"}}}}
	d := webhook.Mutate(pod, dc, p, webhook.Config{AgentImage: "ghcr.io/cassbackup/cassandra-backup-agent:test"})
	if !d.Allowed || len(d.Patch) == 0 {
		t.Fatalf("webhook decision %+v", d)
	}
	mutated := patched(t, pod, d)
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, mutated, dryRun); err != nil {
		t.Fatalf("the sample's pod with the restore init container: %v", err)
	}
	if ic := mutated.Spec.InitContainers[0]; ic.SecurityContext == nil || ic.SecurityContext.RunAsUser == nil || *ic.SecurityContext.RunAsUser != 999 {
		t.Errorf("init container securityContext %+v, want the pod's user 999", ic.SecurityContext)
	}
	mutated.Spec.InitContainers[0].SecurityContext = nil
	_, err = kube.CoreV1().Pods(ns).Create(ctx, mutated, dryRun)
	if err == nil || !strings.Contains(err.Error(), `violates PodSecurity "restricted:latest"`) {
		t.Errorf("an init container without securityContext: %v, want a PodSecurity rejection", err)
	}
}

// patched returns pod with the decision's JSON patch applied.
func patched(t *testing.T, pod *corev1.Pod, d webhook.Decision) *corev1.Pod {
	t.Helper()
	raw, err := d.PatchJSON()
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(pod)
	out, err := patch.Apply(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}
