// Package chart_test lints and renders the Helm chart charts/cassandra-backup-operator for
// its default values and for each option (a namespaced install, cert-manager certificates,
// a PodDisruptionBudget with anti-affinity, a ServiceMonitor, another image registry and
// tag), checks what each rendering must contain, and applies it server-side to the test
// control plane, with the third-party CRDs (cert-manager, prometheus-operator) generated
// from their Go API types by hack/tools.sh thirdparty-crds.
package chart_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

// rendering is the output of helm template, by kind.
type rendering []*unstructured.Unstructured

// of returns the objects of one kind.
func (r rendering) of(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one decodes the only object of kind into a typed object, failing t when there is not
// exactly one.
func (r rendering) one(t *testing.T, kind string, into any) {
	t.Helper()
	objs := r.of(kind)
	if len(objs) != 1 {
		t.Fatalf("%d objects of kind %s, want 1", len(objs), kind)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, into); err != nil {
		t.Fatalf("%s: %v", kind, err)
	}
}

// operatorArgs parses the operator container's arguments with the operator's own flags,
// so an argument the chart renders that the binary does not know fails here.
func (r rendering) operatorArgs(t *testing.T) (operator.Config, appsv1.Deployment) {
	t.Helper()
	var dep appsv1.Deployment
	r.one(t, "Deployment", &dep)
	c := dep.Spec.Template.Spec.Containers[0]
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg operator.Config
	cfg.BindFlags(fs)
	if err := fs.Parse(c.Args); err != nil {
		t.Fatalf("operator args %v: %v", c.Args, err)
	}
	return cfg, dep
}

func chartDir(t testing.TB) string {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "charts", "cassandra-backup-operator")
}

// helm runs the cached helm (hack/tools.sh helm, or $HELM_BIN).
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	bin, err := controlplane.ToolPath("helm")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(err.Error() + ": " + stderr.String())
	}
	return stdout.String(), nil
}

// render lints the chart with the values and renders it (CRDs included) as release in
// namespace.
func render(t *testing.T, release, namespace string, set []string) (rendering, string) {
	t.Helper()
	var values []string
	for _, s := range set {
		values = append(values, "--set", s)
	}
	if out, err := helm(t, append([]string{"lint", "--strict", chartDir(t), "--namespace", namespace}, values...)...); err != nil {
		t.Fatalf("helm lint %v: %v\n%s", set, err, out)
	}
	out, err := helm(t, append([]string{"template", release, chartDir(t), "--namespace", namespace, "--include-crds"}, values...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v", set, err)
	}
	var r rendering
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	for {
		var o unstructured.Unstructured
		if err := dec.Decode(&o.Object); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("helm template %v: output does not decode: %v", set, err)
		}
		if o.Object != nil {
			r = append(r, &o)
		}
	}
	return r, out
}

var thirdParty sync.Once

// apply applies a rendering server-side, after the third-party CRDs.
func apply(t *testing.T, cp *controlplane.ControlPlane, manifest string) {
	t.Helper()
	thirdParty.Do(func() {
		dir, err := controlplane.ToolPath("thirdparty-crds")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := cp.Kubectl(t.Context(), nil, "apply", "--server-side", "--field-manager=chart-test", "-f", dir); err != nil {
			t.Fatalf("third-party CRDs: %v\n%s", err, out)
		}
		if out, err := cp.Kubectl(t.Context(), nil, "wait", "--for=condition=Established", "--timeout=60s",
			"crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io", "crd/servicemonitors.monitoring.coreos.com"); err != nil {
			t.Fatalf("third-party CRDs not established: %v\n%s", err, out)
		}
	})
	// kubectl's discovery can lag a moment behind newly established CRDs.
	var out string
	var err error
	for range 20 {
		out, err = cp.Kubectl(t.Context(), []byte(manifest), "apply", "--server-side", "--field-manager=chart-test", "-f", "-")
		if err == nil || !strings.Contains(err.Error(), "no matches for kind") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("kubectl apply --server-side: %v\n%s", err, out)
	}
}

// canI asks the API server what the ServiceAccount may do.
func canI(t *testing.T, cp *controlplane.ControlPlane, sa string, want string, args ...string) {
	t.Helper()
	out, _ := cp.Kubectl(t.Context(), nil, append([]string{"auth", "can-i", "--as", sa}, args...)...) // exits 1 on "no"
	if got := strings.TrimSpace(out); got != want {
		t.Errorf("%s can-i %s = %q, want %q", sa, strings.Join(args, " "), got, want)
	}
}

func ruleFor(rules []rbacv1.PolicyRule, resource string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, resource) })
}

func kinds(r rendering) map[string]int {
	m := map[string]int{}
	for _, o := range r {
		m[o.GetKind()]++
	}
	return m
}

func TestDefaultValues(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	r, manifest := render(t, "cassandra-backup-operator", ns, nil)
	got := kinds(r)
	// Every CRD the chart holds (one file each; several kinds are added in parallel).
	crds, err := filepath.Glob(filepath.Join(chartDir(t), "crds", "*.yaml"))
	if err != nil || len(crds) < 4 {
		t.Fatalf("chart CRDs %v: %v", crds, err)
	}
	for kind, n := range map[string]int{
		"CustomResourceDefinition": len(crds), "ServiceAccount": 1, "ClusterRole": 3, "ClusterRoleBinding": 1, "NetworkPolicy": 0,
		"Role": 1, "RoleBinding": 1, "Deployment": 1, "Service": 1, "MutatingWebhookConfiguration": 1,
		"Namespace": 0, "PodDisruptionBudget": 1, "ValidatingAdmissionPolicy": 2, "ValidatingAdmissionPolicyBinding": 2, // the restore guards: ours, cass-operator's datacenters "ServiceMonitor": 0, "Certificate": 0, "Issuer": 0,
	} {
		if got[kind] != n {
			t.Errorf("%d %s, want %d (all: %v)", got[kind], kind, n, got)
		}
	}
	cfg, dep := r.operatorArgs(t)
	if len(cfg.Namespaces) != 0 || !cfg.LeaderElect || cfg.LeaderElectionNamespace != ns ||
		cfg.WebhookConfiguration != "cassandra-backup-operator" || cfg.WebhookMountedCerts || cfg.WebhookService != "cassandra-backup-operator" || !cfg.WebhookRestoreGuard {
		t.Errorf("operator config %+v", cfg)
	}
	if aff := dep.Spec.Template.Spec.Affinity; *dep.Spec.Replicas != 2 || aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("replicas %d, affinity %v; want 2 and a preferred anti-affinity", *dep.Spec.Replicas, aff)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/cassbackup/cassandra-backup-operator:v0.1.0" || c.Env[0].Value != "ghcr.io/cassbackup/cassandra-backup-agent:v0.1.0" {
		t.Errorf("images %s, %s=%s", c.Image, c.Env[0].Name, c.Env[0].Value)
	}
	var hook admissionv1.MutatingWebhookConfiguration
	r.one(t, "MutatingWebhookConfiguration", &hook)
	if p := hook.Webhooks[0].FailurePolicy; p == nil || *p != admissionv1.Ignore {
		t.Errorf("webhook failurePolicy %v, want Ignore beside the restore guard", p)
	}
	if sel := hook.Webhooks[0].NamespaceSelector.MatchExpressions[0]; sel.Operator != "NotIn" || !slices.Equal(sel.Values, []string{ns, "kube-system"}) {
		t.Errorf("webhook namespaceSelector %+v", sel)
	}

	apply(t, cp, manifest)
	sa := "system:serviceaccount:" + ns + ":cassandra-backup-operator"
	canI(t, cp, sa, "yes", "watch", "cassandrabackups.cassandraoperator.instaclustr.com", "-A")
	canI(t, cp, sa, "yes", "patch", "mutatingwebhookconfigurations/cassandra-backup-operator")
	canI(t, cp, sa, "yes", "create", "secrets", "-n", ns)
	canI(t, cp, sa, "no", "list", "secrets", "-A")
	canI(t, cp, sa, "yes", "create", "cassandrabackups.cassandraoperator.instaclustr.com", "--subresource=operations", "-A")
	canI(t, cp, sa, "yes", "create", "serviceaccounts/cassandra-backup-operator", "--subresource=token", "-n", ns)
	canI(t, cp, sa, "no", "create", "serviceaccounts/default", "--subresource=token", "-n", ns)
}

// A namespaced install watching two namespaces: Roles there instead of the ClusterRole;
// what stays cluster-scoped is the caBundle right on its own webhook configuration.
func TestNamespacedInstall(t *testing.T) {
	cp := controlplane.Shared(t)
	ns, a, b, other := cp.Namespace(t), cp.Namespace(t), cp.Namespace(t), cp.Namespace(t)
	r, manifest := render(t, "cbo-ns", ns, []string{"watchNamespaces={" + a + "," + b + "}"})
	cfg, _ := r.operatorArgs(t)
	if !slices.Equal(cfg.Namespaces, []string{a, b}) {
		t.Errorf("--namespace parsed as %v, want [%s %s]", cfg.Namespaces, a, b)
	}
	var cluster rbacv1.ClusterRole
	for _, o := range r.of("ClusterRole") {
		if o.GetName() == "cbo-ns-cassandra-backup-operator" {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &cluster); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(cluster.Rules) != 1 || !ruleFor(cluster.Rules, "mutatingwebhookconfigurations") {
		t.Errorf("the operator's ClusterRole has rules %+v, want only its webhook configuration", cluster.Rules)
	}
	roles := map[string]bool{}
	for _, o := range r.of("Role") {
		var role rbacv1.Role
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
			t.Fatal(err)
		}
		roles[role.Namespace] = ruleFor(role.Rules, "pods")
	}
	if len(roles) != 3 || !roles[a] || !roles[b] || roles[ns] {
		t.Errorf("Roles (namespace: has the watch rules) %v, want %s and %s with, %s (leases, certificate) without", roles, a, b, ns)
	}
	var hook admissionv1.MutatingWebhookConfiguration
	r.one(t, "MutatingWebhookConfiguration", &hook)
	if p := hook.Webhooks[0].FailurePolicy; p == nil || *p != admissionv1.Ignore {
		t.Errorf("webhook failurePolicy %v, want Ignore beside the restore guard", p)
	}
	if sel := hook.Webhooks[0].NamespaceSelector.MatchExpressions[0]; sel.Operator != "In" || !slices.Equal(sel.Values, []string{a, b}) {
		t.Errorf("webhook namespaceSelector %+v, want In [%s %s]", sel, a, b)
	}

	apply(t, cp, manifest)
	sa := "system:serviceaccount:" + ns + ":cbo-ns-cassandra-backup-operator"
	for _, n := range []string{a, b} {
		canI(t, cp, sa, "yes", "list", "pods", "-n", n)
		canI(t, cp, sa, "yes", "patch", "cassandrabackups.cassandraoperator.instaclustr.com/status", "-n", n)
		canI(t, cp, sa, "yes", "create", "configmaps", "-n", n)
		// The watched namespace's own object (is it being deleted?): a Role grants it.
		canI(t, cp, sa, "yes", "get", "namespaces/"+n, "-n", n)
	}
	canI(t, cp, sa, "no", "get", "namespaces/"+other, "-n", other)
	canI(t, cp, sa, "no", "list", "pods", "-n", other)
	canI(t, cp, sa, "no", "get", "secrets", "-n", other)
	canI(t, cp, sa, "no", "watch", "cassandrabackups.cassandraoperator.instaclustr.com", "-A")
	canI(t, cp, sa, "yes", "update", "leases.coordination.k8s.io", "-n", ns)
	canI(t, cp, sa, "yes", "patch", "mutatingwebhookconfigurations/cbo-ns-cassandra-backup-operator")
	canI(t, cp, sa, "no", "patch", "mutatingwebhookconfigurations/cassandra-backup-operator")
	// The agents' API: the operator drives operations in the watched namespaces only, with
	// tokens of its own ServiceAccount; the agents there may review tokens and access.
	canI(t, cp, sa, "yes", "create", "cassandrabackups.cassandraoperator.instaclustr.com", "--subresource=operations", "-n", a)
	canI(t, cp, sa, "no", "create", "cassandrabackups.cassandraoperator.instaclustr.com", "--subresource=operations", "-n", other)
	canI(t, cp, sa, "yes", "create", "serviceaccounts/cbo-ns-cassandra-backup-operator", "--subresource=token", "-n", ns)
	canI(t, cp, sa, "no", "create", "serviceaccounts/cassandra", "--subresource=token", "-n", a)
	for _, n := range []string{a, b} {
		agent := "system:serviceaccount:" + n + ":cassandra"
		canI(t, cp, agent, "yes", "create", "tokenreviews.authentication.k8s.io")
		canI(t, cp, agent, "yes", "create", "subjectaccessreviews.authorization.k8s.io")
	}
	canI(t, cp, "system:serviceaccount:"+other+":cassandra", "no", "create", "tokenreviews.authentication.k8s.io")

	// Watching its own namespace too: one Role there, with the watch rules and the Lease.
	r, _ = render(t, "cbo-ns", ns, []string{"watchNamespaces={" + a + "," + ns + "}"})
	var own []rbacv1.Role
	for _, o := range r.of("Role") {
		var role rbacv1.Role
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
			t.Fatal(err)
		}
		if role.Namespace == ns {
			own = append(own, role)
		}
	}
	if len(own) != 1 || !ruleFor(own[0].Rules, "pods") || !ruleFor(own[0].Rules, "leases") {
		t.Errorf("Roles in the watched release namespace: %+v, want one with pods and leases", own)
	}
}

// cert-manager issues the serving certificate: a self-signed Issuer, a Certificate, the
// CA injector's annotation, the Secret mounted; the operator needs no Secret or webhook rights.
func TestCertManagerCertificates(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	r, manifest := render(t, "cbo-cm", ns, []string{"webhook.certManager.enabled=true"})
	cfg, dep := r.operatorArgs(t)
	if !cfg.WebhookMountedCerts || cfg.WebhookCertDir != "/tmp/k8s-webhook-server/serving-certs" {
		t.Errorf("operator config %+v, want mounted certificates", cfg)
	}
	vols := dep.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].Secret == nil || vols[0].Secret.SecretName != "cbo-cm-cassandra-backup-operator-webhook-tls" {
		t.Errorf("volumes %+v, want the Certificate's Secret", vols)
	}
	issuers, certs := r.of("Issuer"), r.of("Certificate")
	if len(issuers) != 1 || len(certs) != 1 {
		t.Fatalf("%d Issuers, %d Certificates, want 1 each", len(issuers), len(certs))
	}
	dns, _, _ := unstructured.NestedStringSlice(certs[0].Object, "spec", "dnsNames")
	issuer, _, _ := unstructured.NestedString(certs[0].Object, "spec", "issuerRef", "name")
	secret, _, _ := unstructured.NestedString(certs[0].Object, "spec", "secretName")
	if !slices.Contains(dns, "cbo-cm-cassandra-backup-operator."+ns+".svc") || issuer != issuers[0].GetName() || secret != vols[0].Secret.SecretName {
		t.Errorf("Certificate dnsNames %v, issuer %s, secret %s", dns, issuer, secret)
	}
	var hook admissionv1.MutatingWebhookConfiguration
	r.one(t, "MutatingWebhookConfiguration", &hook)
	if got := hook.Annotations["cert-manager.io/inject-ca-from"]; got != ns+"/"+certs[0].GetName() {
		t.Errorf("cert-manager.io/inject-ca-from = %q, want %s/%s", got, ns, certs[0].GetName())
	}
	for _, o := range r.of("ClusterRole") {
		var role rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
			t.Fatal(err)
		}
		if ruleFor(role.Rules, "mutatingwebhookconfigurations") {
			t.Errorf("ClusterRole %s keeps a right on webhook configurations with cert-manager", role.Name)
		}
	}

	apply(t, cp, manifest)
	sa := "system:serviceaccount:" + ns + ":cbo-cm-cassandra-backup-operator"
	canI(t, cp, sa, "no", "create", "secrets", "-n", ns)
	canI(t, cp, sa, "no", "patch", "mutatingwebhookconfigurations/cbo-cm-cassandra-backup-operator")
	canI(t, cp, sa, "yes", "list", "pods", "-A")

	// An issuer of the user's: no Issuer of the chart's.
	r, _ = render(t, "cbo-cm", ns, []string{"webhook.certManager.enabled=true", "webhook.certManager.issuerRef.kind=ClusterIssuer", "webhook.certManager.issuerRef.name=corp-ca"})
	issuer, _, _ = unstructured.NestedString(r.of("Certificate")[0].Object, "spec", "issuerRef", "name")
	if len(r.of("Issuer")) != 0 || issuer != "corp-ca" {
		t.Errorf("with issuerRef corp-ca: %d Issuers, Certificate issued by %q", len(r.of("Issuer")), issuer)
	}
}

func TestDisruptionBudgetAndAntiAffinity(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	r, manifest := render(t, "cbo-ha", ns, []string{"replicas=3", "podDisruptionBudget.enabled=true", "podAntiAffinity.enabled=true", "podAntiAffinity.required=true"})
	_, dep := r.operatorArgs(t)
	var pdb policyv1.PodDisruptionBudget
	r.one(t, "PodDisruptionBudget", &pdb)
	if pdb.Spec.MinAvailable.IntValue() != 1 || !maps.Equal(pdb.Spec.Selector.MatchLabels, dep.Spec.Selector.MatchLabels) {
		t.Errorf("PDB minAvailable %v selector %v, Deployment selector %v", pdb.Spec.MinAvailable, pdb.Spec.Selector.MatchLabels, dep.Spec.Selector.MatchLabels)
	}
	aff := dep.Spec.Template.Spec.Affinity
	if *dep.Spec.Replicas != 3 || aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("replicas %d, affinity %+v; want 3 and a required anti-affinity", *dep.Spec.Replicas, aff)
	}
	term := aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
	if term.TopologyKey != "kubernetes.io/hostname" || !maps.Equal(term.LabelSelector.MatchLabels, dep.Spec.Selector.MatchLabels) {
		t.Errorf("anti-affinity term %+v", term)
	}
	apply(t, cp, manifest)

	// Preferred by default; a user's node affinity is kept beside it.
	r, _ = render(t, "cbo-ha", ns, []string{"podAntiAffinity.enabled=true", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists"})
	_, dep = r.operatorArgs(t)
	aff = dep.Spec.Template.Spec.Affinity
	if aff == nil || aff.NodeAffinity == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("affinity %+v, want the node affinity and a preferred anti-affinity", aff)
	}

	// One replica with a budget would block every drain: no budget then.
	if r, _ := render(t, "cbo-ha", ns, []string{"replicas=1", "podDisruptionBudget.enabled=true"}); kinds(r)["PodDisruptionBudget"] != 0 {
		t.Errorf("replicas=1: a PodDisruptionBudget rendered")
	}
	// Without the guard of cass-operator's datacenters: the guard of ours alone.
	if r, _ := render(t, "cbo-ha", ns, []string{"restoreGuard.cassOperatorDatacenters=false"}); kinds(r)["ValidatingAdmissionPolicy"] != 1 || kinds(r)["ValidatingAdmissionPolicyBinding"] != 1 {
		t.Errorf("restoreGuard.cassOperatorDatacenters=false: %v", kinds(r))
	}
	// The restore guard off: the webhook fails closed, no policy.
	r, _ = render(t, "cbo-ha", ns, []string{"restoreGuard.enabled=false"})
	var hook admissionv1.MutatingWebhookConfiguration
	r.one(t, "MutatingWebhookConfiguration", &hook)
	if cfg, _ := r.operatorArgs(t); kinds(r)["ValidatingAdmissionPolicy"] != 0 || *hook.Webhooks[0].FailurePolicy != admissionv1.Fail || cfg.WebhookRestoreGuard {
		t.Errorf("restoreGuard.enabled=false: policies %d, failurePolicy %s, --webhook-restore-guard %v", kinds(r)["ValidatingAdmissionPolicy"], *hook.Webhooks[0].FailurePolicy, cfg.WebhookRestoreGuard)
	}
}

func TestServiceMonitor(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	r, manifest := render(t, "cbo-mon", ns, []string{"serviceMonitor.enabled=true", "serviceMonitor.labels.release=prometheus"})
	mons, svcs := r.of("ServiceMonitor"), r.of("Service")
	if len(mons) != 1 || len(svcs) != 1 {
		t.Fatalf("%d ServiceMonitors, %d Services", len(mons), len(svcs))
	}
	sel, _, _ := unstructured.NestedStringMap(mons[0].Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if svcs[0].GetLabels()[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, the Service has %v", k, v, svcs[0].GetLabels())
		}
	}
	endpoints, _, _ := unstructured.NestedSlice(mons[0].Object, "spec", "endpoints")
	if len(endpoints) != 1 || endpoints[0].(map[string]any)["port"] != "metrics" || mons[0].GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor endpoints %v, labels %v", endpoints, mons[0].GetLabels())
	}
	apply(t, cp, manifest)
	if out, err := cp.Kubectl(t.Context(), nil, "get", "servicemonitors.monitoring.coreos.com", "-n", ns, "cbo-mon-cassandra-backup-operator", "-o", "jsonpath={.spec.endpoints[0].port}"); err != nil || out != "metrics" {
		t.Errorf("applied ServiceMonitor: %q, %v", out, err)
	}
}

// Another registry and tag reach both the operator's image and the agent image it injects;
// a digest wins over the tag.
func TestImageValues(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	r, manifest := render(t, "cbo-img", ns, []string{"image.registry=registry.example:5000/mirror", "image.tag=v9.9.9", "image.pullPolicy=Always", "imagePullSecrets[0].name=mirror"})
	cfg, dep := r.operatorArgs(t)
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example:5000/mirror/cassandra-backup-operator:v9.9.9" || c.ImagePullPolicy != "Always" ||
		len(dep.Spec.Template.Spec.ImagePullSecrets) != 1 {
		t.Errorf("operator image %s, pull policy %s, pull secrets %v", c.Image, c.ImagePullPolicy, dep.Spec.Template.Spec.ImagePullSecrets)
	}
	if c.Env[0].Name != "AGENT_IMAGE" || c.Env[0].Value != "registry.example:5000/mirror/cassandra-backup-agent:v9.9.9" || cfg.AgentImage != "$(AGENT_IMAGE)" {
		t.Errorf("agent image %s=%s, --agent-image=%s", c.Env[0].Name, c.Env[0].Value, cfg.AgentImage)
	}
	apply(t, cp, manifest)

	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	r, _ = render(t, "cbo-img", ns, []string{"image.agent.digest=" + digest, "image.operator.tag=v1.2.3"})
	_, dep = r.operatorArgs(t)
	c = dep.Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/cassbackup/cassandra-backup-operator:v1.2.3" || c.Env[0].Value != "ghcr.io/cassbackup/cassandra-backup-agent@"+digest {
		t.Errorf("images %s and %s", c.Image, c.Env[0].Value)
	}
}

// values.schema.json refuses a misspelt value and a namespace that cannot exist, so a
// typo never silently renders the default.
func TestValuesSchema(t *testing.T) {
	for _, set := range []string{"podDisruptionBudget.enable=true", "watchNamespaces={Bad_NS}", "replicas=0", "image.pullPolicy=Sometimes", "defaultProfile=datastax"} {
		if _, err := helm(t, "template", "cbo", chartDir(t), "--set", set); err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("helm template --set %s: err %v, want a schema refusal", set, err)
		}
	}
}

// TestDefaultProfile: the chart's defaultProfile reaches the operator as --default-profile,
// parsed by the operator's own flags; unset, the operator's default stays.
func TestDefaultProfile(t *testing.T) {
	r, _ := render(t, "cbo", "cassandra-backup-system", []string{"defaultProfile=cass-operator"})
	if cfg, _ := r.operatorArgs(t); cfg.DefaultProfile != "cass-operator" {
		t.Errorf("defaultProfile=cass-operator renders --default-profile=%q", cfg.DefaultProfile)
	}
	r, _ = render(t, "cbo", "cassandra-backup-system", nil)
	if cfg, _ := r.operatorArgs(t); cfg.DefaultProfile != "instaclustr" {
		t.Errorf("without defaultProfile the operator's default is %q, want instaclustr", cfg.DefaultProfile)
	}
}
