package verification

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/verify"
)

// ContainerName is the drill pod's one container.
const ContainerName = "verify"

// deadline bounds a drill pod's life (activeDeadlineSeconds); the agent's own --timeout
// ends its work a little before, so it still writes its result.
const (
	deadline     = 6 * 3600
	agentTimeout = "5h50m"
)

// Pod returns the drill pod of a run: the agent image running `cassandra-backup-agent
// verify` against the backup, with the restricted Pod Security profile, owned by the
// verification so that deleting it deletes the pod.
func Pod(v *v1alpha1.CassandraBackupVerification, b *v1alpha1.CassandraBackup, name string, o Options) *corev1.Pod {
	s := b.Spec
	args := []string{"verify",
		"--storage-location=" + s.StorageLocation, "--snapshot-tag=" + s.SnapshotTag,
		"--cluster=" + s.Cluster, "--datacenter=" + s.Datacenter,
		"--k8s-namespace=" + v.Namespace, "--timeout=" + agentTimeout,
		"--termination-message-path=" + corev1.TerminationMessagePathDefault}
	if sec := secretOf(v, b); sec != "" {
		args = append(args, "--k8s-secret-name="+sec)
	}
	if s.Insecure {
		args = append(args, "--insecure")
	}
	if v.Spec.Sample != "" {
		args = append(args, "--sample="+v.Spec.Sample)
	}
	args = append(args, o.ExtraArgs...)
	image, sa := o.Image, o.ServiceAccount
	if v.Spec.Image != "" {
		image = v.Spec.Image
	}
	if v.Spec.ServiceAccountName != "" {
		sa = v.Spec.ServiceAccountName
	}
	c := corev1.Container{
		Name: ContainerName, Image: image,
		Command: []string{"cassandra-backup-agent"}, Args: args,
		Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
		},
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	if v.Spec.Resources != nil {
		c.Resources = *v.Spec.Resources
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: v.Namespace,
			Labels:          map[string]string{LabelVerification: v.Name},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(v, v1alpha1.SchemeGroupVersion.WithKind("CassandraBackupVerification"))},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:         corev1.RestartPolicyNever,
			ServiceAccountName:    sa,
			ActiveDeadlineSeconds: ptr.To[int64](deadline),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{c},
		},
	}
}

// secretOf is the Secret the drill reads: the spec's override, else the backup's.
func secretOf(v *v1alpha1.CassandraBackupVerification, b *v1alpha1.CassandraBackup) string {
	if v.Spec.Secret != "" {
		return v.Spec.Secret
	}
	return b.Spec.Secret
}

// Outcome is what an ended drill pod says.
type Outcome struct {
	// Done is false while the pod runs.
	Done bool
	// State is COMPLETED or FAILED.
	State v1alpha1.VerificationState
	// Result is the agent's summary, when it wrote one.
	Result *verify.Result
	// Message says what happened.
	Message string
}

// OutcomeOf reads a drill pod: not done while it runs; when it ended, the summary of its
// termination message, or why there is none.
func OutcomeOf(pod *corev1.Pod) Outcome {
	var term *corev1.ContainerStateTerminated
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == ContainerName && cs.State.Terminated != nil {
			term = cs.State.Terminated
		}
	}
	if term == nil {
		if pod.Status.Phase == corev1.PodFailed {
			return Outcome{Done: true, State: v1alpha1.VerificationFailed,
				Message: fmt.Sprintf("the drill's pod %s failed: %s %s", pod.Name, pod.Status.Reason, pod.Status.Message)}
		}
		return Outcome{}
	}
	if r, err := verify.ParseSummary([]byte(term.Message)); err == nil && (len(r.Nodes) > 0 || r.Backup.FailureCount > 0) {
		out := Outcome{Done: true, State: v1alpha1.VerificationCompleted, Result: &r, Message: r.Message()}
		if r.Failed() {
			out.State = v1alpha1.VerificationFailed
		}
		return out
	}
	msg := strings.TrimSpace(term.Message)
	if len(msg) > 1024 {
		msg = "…" + msg[len(msg)-1024:]
	}
	return Outcome{Done: true, State: v1alpha1.VerificationFailed,
		Message: fmt.Sprintf("the drill's pod %s ended (exit code %d, %s) without a result: %s", pod.Name, term.ExitCode, term.Reason, msg)}
}

// nodeStatus turns the agent's per-node results into status.
func nodeStatus(r *verify.Result) []v1alpha1.NodeVerification {
	var out []v1alpha1.NodeVerification
	for _, n := range append([]verify.NodeResult{r.Backup}, r.Nodes...) {
		if n.Node == "" && n.FailureCount == 0 {
			continue // no failure across nodes
		}
		nv := v1alpha1.NodeVerification{Node: n.Node, HostID: n.HostID, ObjectsTotal: n.Total,
			ObjectsVerified: n.Objects, BytesVerified: n.Bytes, FailureCount: n.FailureCount}
		if nv.Node == "" {
			nv.Node = "(backup)"
		}
		for _, f := range n.Failures {
			nv.Failures = append(nv.Failures, v1alpha1.VerificationFailure{Key: f.Key, Reason: f.Reason})
		}
		out = append(out, nv)
	}
	return out
}
