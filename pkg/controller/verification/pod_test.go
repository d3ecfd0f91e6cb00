package verification

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/verify"
)

func TestPod(t *testing.T) {
	v := &v1alpha1.CassandraBackupVerification{ObjectMeta: metav1.ObjectMeta{Name: "drill", Namespace: "cassandra", UID: "u1"},
		Spec: v1alpha1.CassandraBackupVerificationSpec{BackupName: "nightly", Sample: "10%"}}
	b := &v1alpha1.CassandraBackup{Spec: v1alpha1.CassandraBackupSpec{StorageLocation: "s3://bucket", SnapshotTag: "snap",
		Cluster: "prod", Datacenter: "dc1", Secret: "creds", Insecure: true}}
	p := Pod(v, b, "drill-20261130-010000", Options{Image: "agent:1", ServiceAccount: "cassandra", ExtraArgs: []string{"--gcs-endpoint=http://x"}})
	c := p.Spec.Containers[0]
	for _, want := range []string{"verify", "--storage-location=s3://bucket", "--snapshot-tag=snap", "--cluster=prod", "--datacenter=dc1",
		"--k8s-namespace=cassandra", "--k8s-secret-name=creds", "--insecure", "--sample=10%", "--gcs-endpoint=http://x",
		"--termination-message-path=/dev/termination-log"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	sc := c.SecurityContext
	if p.Spec.RestartPolicy != corev1.RestartPolicyNever || p.Spec.ServiceAccountName != "cassandra" || c.Image != "agent:1" ||
		*sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || !*sc.RunAsNonRoot || sc.Capabilities.Drop[0] != "ALL" ||
		p.Spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || p.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("pod spec %+v", p.Spec)
	}
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != "u1" || !*p.OwnerReferences[0].Controller || p.Labels[LabelVerification] != "drill" {
		t.Errorf("owner %+v labels %v", p.OwnerReferences, p.Labels)
	}
	v.Spec.Secret, v.Spec.ServiceAccountName, v.Spec.Image = "other", "drill-sa", "agent:2"
	p = Pod(v, b, "x", Options{Image: "agent:1", ServiceAccount: "cassandra"})
	if !slices.Contains(p.Spec.Containers[0].Args, "--k8s-secret-name=other") || p.Spec.ServiceAccountName != "drill-sa" || p.Spec.Containers[0].Image != "agent:2" {
		t.Errorf("overrides not applied: %+v", p.Spec)
	}
}

func TestOutcomeOf(t *testing.T) {
	ended := func(code int32, msg string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: ContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Message: msg, Reason: "Error"}}}}}}
	}
	good := verify.Result{Nodes: []verify.NodeResult{{Node: "n1", Total: 3, Objects: 3, Bytes: 30}}}
	bad := verify.Result{Nodes: []verify.NodeResult{{Node: "n1", Total: 3, Objects: 3, FailureCount: 1, Failures: []verify.Failure{{Key: "k", Reason: "missing"}}}}}
	for _, tc := range []struct {
		name  string
		pod   *corev1.Pod
		done  bool
		state v1alpha1.VerificationState
		msg   string
	}{
		{"running", &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}, false, "", ""},
		{"completed", ended(0, string(verify.Summary(good))), true, v1alpha1.VerificationCompleted, "3 objects"},
		{"failed check", ended(1, string(verify.Summary(bad))), true, v1alpha1.VerificationFailed, "k: missing"},
		{"no result", ended(1, "open bucket: access denied"), true, v1alpha1.VerificationFailed, "without a result: open bucket: access denied"},
		{"evicted", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"}}, true, v1alpha1.VerificationFailed, "DeadlineExceeded"},
	} {
		got := OutcomeOf(tc.pod)
		if got.Done != tc.done || got.State != tc.state || !strings.Contains(got.Message, tc.msg) {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
}
