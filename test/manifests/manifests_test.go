// Package manifests_test applies the install manifests to a real kube-apiserver and checks
// that the RBAC they grant is the least the operator and the agent need.
package manifests_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

func TestKustomizationApplies(t *testing.T) {
	cp := controlplane.Shared(t)
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cp.Kubectl(t.Context(), nil, "apply", "-k", filepath.Join(root, "manifests"))
	if err != nil {
		t.Fatalf("kubectl apply -k manifests/: %v\n%s", err, out)
	}
	for _, want := range []string{
		"namespace/cassandra-backup-system",
		"serviceaccount/cassandra-backup-operator",
		"clusterrole.rbac.authorization.k8s.io/cassandra-backup-operator",
		"clusterrole.rbac.authorization.k8s.io/cassandra-backup-agent",
		"deployment.apps/cassandra-backup-operator",
		"service/cassandra-backup-operator",
		"mutatingwebhookconfiguration.admissionregistration.k8s.io/cassandra-backup-operator",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl apply -k did not apply %s:\n%s", want, out)
		}
	}
	out, err = cp.Kubectl(t.Context(), nil, "get", "deployment", "-n", "cassandra-backup-system", "cassandra-backup-operator", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem} {.spec.template.spec.securityContext.runAsNonRoot}")
	if err != nil || out != "2 true true" {
		t.Errorf("deployment replicas, read-only root, non-root = %q, %v", out, err)
	}

	// What the operator's service account may do, and what it may not.
	const operator = "system:serviceaccount:cassandra-backup-system:cassandra-backup-operator"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "cassandrabackups.cassandraoperator.instaclustr.com", "-A"}, "yes"},
		{[]string{"patch", "cassandrabackups.cassandraoperator.instaclustr.com/status", "-n", "default"}, "yes"},
		{[]string{"patch", "cassandradatacenters.cassandraoperator.instaclustr.com/status", "-n", "default"}, "yes"},
		{[]string{"list", "pods", "-A"}, "yes"},
		{[]string{"create", "configmaps", "-n", "default"}, "yes"},
		{[]string{"get", "secrets", "-n", "default"}, "yes"},
		{[]string{"list", "secrets", "-A"}, "no"},
		{[]string{"watch", "secrets", "-n", "default"}, "no"},
		{[]string{"create", "secrets", "-n", "default"}, "no"},
		{[]string{"create", "secrets", "-n", "cassandra-backup-system"}, "yes"},
		{[]string{"create", "events", "-n", "default"}, "yes"},
		{[]string{"get", "namespaces/default"}, "yes"},
		{[]string{"list", "namespaces"}, "no"},
		{[]string{"update", "leases.coordination.k8s.io", "-n", "cassandra-backup-system"}, "yes"},
		{[]string{"update", "leases.coordination.k8s.io", "-n", "default"}, "no"},
		{[]string{"patch", "mutatingwebhookconfigurations/cassandra-backup-operator"}, "yes"},
		{[]string{"patch", "mutatingwebhookconfigurations/someone-else"}, "no"},
		{[]string{"create", "cassandrabackups.cassandraoperator.instaclustr.com", "--subresource=operations", "-n", "default"}, "yes"},
		{[]string{"get", "cassandrabackups.cassandraoperator.instaclustr.com", "--subresource=operations", "-n", "default"}, "yes"},
		{[]string{"delete", "cassandrabackups.cassandraoperator.instaclustr.com", "--subresource=operations", "-n", "default"}, "yes"},
		{[]string{"create", "serviceaccounts/cassandra-backup-operator", "--subresource=token", "-n", "cassandra-backup-system"}, "yes"},
		{[]string{"create", "serviceaccounts/cassandra", "--subresource=token", "-n", "cassandra-backup-system"}, "no"},
		{[]string{"create", "serviceaccounts/cassandra", "--subresource=token", "-n", "default"}, "no"},
		{[]string{"create", "tokenreviews.authentication.k8s.io"}, "no"},
		// Restore drills: each run's pod (CassandraBackupVerification).
		{[]string{"delete", "pods", "-n", "default"}, "yes"},
		{[]string{"create", "pods", "-n", "default"}, "yes"},
		{[]string{"create", "pods", "-n", "default", "--subresource=exec"}, "no"},
		{[]string{"watch", "cassandrabackupverifications.cassandraoperator.instaclustr.com", "-A"}, "yes"},
		{[]string{"patch", "cassandrabackupverifications.cassandraoperator.instaclustr.com/status", "-n", "default"}, "yes"},
		{[]string{"create", "cassandrabackupverifications.cassandraoperator.instaclustr.com", "-n", "default"}, "no"},
		{[]string{"update", "statefulsets.apps", "-n", "default"}, "no"},
		{[]string{"get", "statefulsets.apps", "-n", "default"}, "yes"}, // a restore plan's disk check
		{[]string{"list", "statefulsets.apps", "-A"}, "no"},
	} {
		args := append([]string{"auth", "can-i", "--as", operator}, tc.args...)
		out, _ := cp.Kubectl(t.Context(), nil, args...) // can-i exits 1 on "no"
		if got := strings.TrimSpace(out); got != tc.want {
			t.Errorf("operator can-i %s = %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}

// The Deployment's arguments are flags the operator knows.
func TestDeploymentArgsAreOperatorFlags(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "manifests", "operator", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	if err := yaml.Unmarshal([]byte(strings.Split(string(data), "\n---\n")[0]), &dep); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	var cfg operator.Config
	cfg.BindFlags(fs)
	if err := fs.Parse(dep.Spec.Template.Spec.Containers[0].Args); err != nil {
		t.Fatalf("deployment args %v: %v", dep.Spec.Template.Spec.Containers[0].Args, err)
	}
	if !cfg.LeaderElect || cfg.WebhookPort != 9443 || cfg.LeaderElectionNamespace != "cassandra-backup-system" {
		t.Errorf("parsed config = %+v", cfg)
	}
}
