package e2e_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// TestSamplesStatefulSetAndAgentRBAC applies the operator's manifests, then the sample
// StatefulSet and agent RBAC in a namespace, and checks the pod template carries what the
// operator relies on and the agent may get Secrets there and nothing more.
func TestSamplesStatefulSetAndAgentRBAC(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, cp, nil, "apply", "--server-side", "--force-conflicts", "-k", root+"/manifests/")
	// No operator runs behind the installed webhook configuration here (failurePolicy
	// Fail): remove it at once, or every labelled pod created later in this control plane
	// (the walkthrough's) would be refused.
	kubectl(t, cp, nil, "delete", "mutatingwebhookconfiguration", "cassandra-backup-operator", "--ignore-not-found")
	kubectl(t, cp, nil, "apply", "-n", ns, "-f", root+"/manifests/samples/agent-rbac.yaml")
	kubectl(t, cp, nil, "apply", "-n", ns, "-f", root+"/manifests/samples/cassandra-statefulset.yaml")

	kube := kubernetes.NewForConfigOrDie(cp.Config())
	sts, err := kube.AppsV1().StatefulSets(ns).Get(context.Background(), "cassandra-test-dc-cassandra-west1-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	labels := sts.Spec.Template.Labels
	if labels[informers.LabelCluster] != "test-cluster" || labels[informers.LabelDatacenter] != "dc1" || labels[informers.LabelRack] != "west1-a" {
		t.Errorf("pod template labels %v", labels)
	}
	ports := map[string]int32{}
	var mounted []string
	for _, c := range sts.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		for _, m := range c.VolumeMounts {
			if m.Name == "data-volume" && m.MountPath == "/var/lib/cassandra" {
				mounted = append(mounted, c.Name)
			}
		}
	}
	if ports[backup.DefaultAgentPortName] != backup.DefaultAgentPort || ports["jolokia"] != 0 {
		t.Errorf("container ports %v: want the agent's, and no Jolokia port (it is pod-local)", ports)
	}
	for _, c := range sts.Spec.Template.Spec.Containers {
		probes := map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe}
		for kind, p := range probes {
			if p == nil || p.HTTPGet == nil {
				continue
			}
			if c.Name != "backup-agent" {
				t.Errorf("container %s: %s probe calls %s over HTTP: only the agent container probes the agent", c.Name, kind, p.HTTPGet.Path)
			} else if p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != backup.DefaultAgentPortName {
				t.Errorf("agent %s probe %s on %s: want /healthz (the agent's own process) on %s", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), backup.DefaultAgentPortName)
			}
		}
		if c.Name == "backup-agent" && (c.ReadinessProbe == nil || c.LivenessProbe == nil) {
			t.Errorf("the agent container lacks a readiness or liveness probe")
		}
	}
	if strings.Join(mounted, ",") != "cassandra,backup-agent" {
		t.Errorf("data volume mounted in %v", mounted)
	}

	as := "--as=system:serviceaccount:" + ns + ":" + sts.Spec.Template.Spec.ServiceAccountName
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "secrets", "-n", ns}, "yes"},
		{[]string{"list", "secrets", "-n", ns}, "no"},
		{[]string{"watch", "secrets", "-n", ns}, "no"},
		{[]string{"get", "secrets", "-n", "default"}, "no"},
		{[]string{"create", "secrets", "-n", ns}, "no"},
		{[]string{"get", "pods", "-n", ns}, "no"},
		{[]string{"create", "tokenreviews.authentication.k8s.io"}, "no"}, // not bound yet
		{[]string{"create", "cassandrabackups.cassandraoperator.instaclustr.com", "--subresource=operations", "-n", ns}, "no"},
	} {
		out, _ := cp.Kubectl(context.Background(), nil, append([]string{"auth", "can-i", as}, c.args...)...)
		if got := strings.TrimSpace(out); got != c.want {
			t.Errorf("agent can-i %s: %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}

	// The README's step for each Cassandra namespace: the agents verify their callers.
	sa := ns + ":" + sts.Spec.Template.Spec.ServiceAccountName
	kubectl(t, cp, nil, "create", "clusterrolebinding", "cassandra-backup-agent-auth-"+ns, "--clusterrole=cassandra-backup-agent-auth", "--serviceaccount="+sa)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "tokenreviews.authentication.k8s.io"}, "yes"},
		{[]string{"create", "subjectaccessreviews.authorization.k8s.io"}, "yes"},
		{[]string{"create", "serviceaccounts/cassandra", "--subresource=token", "-n", ns}, "no"},
		{[]string{"list", "secrets", "-n", ns}, "no"},
	} {
		out, _ := cp.Kubectl(context.Background(), nil, append([]string{"auth", "can-i", as}, c.args...)...)
		if got := strings.TrimSpace(out); got != c.want {
			t.Errorf("bound agent can-i %s: %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
}
