package restore_test

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
)

// TestWebhookThroughAPIServer has the real kube-apiserver call the webhook on pod
// creation, with a plan written by hand (no controller runs).
func TestWebhookThroughAPIServer(t *testing.T) {
	e := newEnv(t, false)
	tokens := []string{"-9000000000000000001", "-12345", "4611686018427387904"}
	dc := e.datacenter("dc1", "clone", 2, &v1alpha1.RestoreSpec{BackupName: "b1"})

	// Not ready: denied, with the reason the controller recorded.
	dc.Status.Restore = &v1alpha1.RestoreStatus{State: v1alpha1.RestorePending, Conditions: []metav1.Condition{{
		Type: reconciler.TypeReady, Status: metav1.ConditionFalse, Reason: restore.ReasonBackupNotCompleted,
		Message: "backup b1 is RUNNING; a restore needs a COMPLETED backup", LastTransitionTime: metav1.Now(),
	}}}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"restore": dc.Status.Restore}})
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Patch(e.ctx, dc.Name, "application/merge-patch+json", patch, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	e.poll("a denial that says why", func() (bool, error) {
		_, err := e.createPod("cassandra-dc1-rack1-0", dc)
		if err == nil {
			t.Fatal("pod created without a plan")
		}
		return strings.Contains(err.Error(), "restore plan is not ready: backup b1 is RUNNING"), err
	})

	// The plan.
	p := &plan.Plan{
		Restore: v1alpha1.RestoreSpec{BackupName: "b1"}, Backup: "b1", StorageLocation: "s3://bucket", SnapshotTag: "t1",
		SourceCluster: "test-cluster", SourceDatacenter: "dc1", Secret: secretName, Insecure: true,
		Pods: map[string]plan.PodPlan{"cassandra-dc1-rack1-0": {SourceNode: "cassandra-src-rack1-0", HostID: "0f0c2a4e-0000-4000-8000-000000000001", RestoreKey: "s3://bucket|k", Tokens: tokens}},
	}
	cm, err := p.ConfigMap(dc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.kube.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var stored *corev1.Pod
	e.poll("the plan to reach the webhook's cache", func() (bool, error) {
		var err error
		stored, err = e.createPod("cassandra-dc1-rack1-0", dc)
		return err == nil, err
	})
	if len(stored.Spec.InitContainers) != 1 || stored.Spec.InitContainers[0].Name != "restore" {
		t.Fatalf("stored pod has init containers %+v", stored.Spec.InitContainers)
	}
	ic := stored.Spec.InitContainers[0]
	if ic.Image != "ghcr.io/cassbackup/cassandra-backup-agent:test" || ic.VolumeMounts[0].Name != "data-volume" || ic.VolumeMounts[0].MountPath != "/var/lib/cassandra" {
		t.Errorf("init container %+v", ic)
	}
	if !strings.Contains(strings.Join(ic.Args, " "), "--k8s-secret-name="+secretName) {
		t.Errorf("init container args %v lack the secret's name", ic.Args)
	}
	var fromPlan *corev1.EnvVar
	for i, ev := range stored.Spec.Containers[0].Env {
		if ev.Name == webhook.EnvRestoreJVMOptions {
			fromPlan = &stored.Spec.Containers[0].Env[i]
		}
	}
	if fromPlan == nil || fromPlan.ValueFrom.ConfigMapKeyRef.Name != cm.Name || fromPlan.ValueFrom.ConfigMapKeyRef.Key != "cassandra-dc1-rack1-0.jvmOptions" {
		t.Errorf("Cassandra container's token configuration: %+v", stored.Spec.Containers[0].Env)
	}
	raw, _ := json.Marshal(stored)
	for _, tok := range tokens {
		if strings.Contains(string(raw), tok) {
			t.Errorf("token %s is in the stored pod", tok)
		}
	}
	secretData := e.secretValues()
	for _, v := range secretData {
		if strings.Contains(string(raw), v) {
			t.Error("a secret value is in the stored pod")
		}
	}

	// A pod beyond the plan, a pod of a datacenter that does not restore and an unrelated
	// pod are stored unchanged.
	plain := e.datacenter("plain", "clone", 1, nil)
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
	}{
		{"beyond the plan", cassandraPod("cassandra-dc1-rack1-1", dc)},
		{"datacenter without restore", cassandraPod("cassandra-plain-rack1-0", plain)},
		{"unrelated", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}},
	} {
		got, err := e.kube.CoreV1().Pods(e.ns).Create(e.ctx, tc.pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got.Spec.InitContainers) != 0 || len(got.Spec.Containers[0].Env) != len(tc.pod.Spec.Containers[0].Env) || got.Annotations[plan.AnnotationRestoreKey] != "" {
			t.Errorf("%s: pod was changed: %+v", tc.name, got.Spec)
		}
	}

	// The webhook's caBundle was set by the operator's certificates.
	hook, err := e.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(e.ctx, e.hook, metav1.GetOptions{})
	if err != nil || string(hook.Webhooks[0].ClientConfig.CABundle) != string(e.certs.CABundle()) {
		t.Errorf("caBundle not patched: %v", err)
	}
}

// secretValues returns the values of the webhook certificate Secret's private keys, which
// must never show up in a pod.
func (e *env) secretValues() []string {
	s, err := e.kube.CoreV1().Secrets(e.ns).Get(e.ctx, e.certs.SecretName, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return []string{string(s.Data[corev1.TLSPrivateKeyKey]), string(s.Data[webhook.KeyCAKey])}
}
