package chart_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// networkPolicy.enabled: one NetworkPolicy per agent namespace that admits only the
// operator's pods to the agents' port, leaves every other port open, and applies.
func TestAgentNetworkPolicy(t *testing.T) {
	cp := controlplane.Shared(t)
	ns, a, b := cp.Namespace(t), cp.Namespace(t), cp.Namespace(t)
	r, manifest := render(t, "cbo-np", ns, []string{"watchNamespaces={" + a + "," + b + "}", "networkPolicy.enabled=true"})
	pols := r.of("NetworkPolicy")
	if len(pols) != 2 {
		t.Fatalf("%d NetworkPolicies, want one in each of %s and %s", len(pols), a, b)
	}
	for _, o := range pols {
		var np networkingv1.NetworkPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &np); err != nil {
			t.Fatal(err)
		}
		in := np.Spec.Ingress
		if len(in) != 2 || len(in[0].From) != 1 || len(in[0].Ports) != 1 || in[0].Ports[0].Port.IntValue() != 4567 {
			t.Fatalf("%s: ingress %+v, want the agent port from the operator, and the rest", np.Namespace, in)
		}
		from := in[0].From[0]
		if from.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != ns || from.PodSelector.MatchLabels["app.kubernetes.io/name"] != "cassandra-backup-operator" {
			t.Errorf("%s: the agent port admits %+v, want the operator's pods in %s", np.Namespace, from, ns)
		}
		for _, p := range in[1].Ports {
			if lo, hi := p.Port.IntValue(), *p.EndPort; *p.Protocol == "TCP" && lo <= 4567 && 4567 <= int(hi) {
				t.Errorf("%s: the open rule covers the agent port: %d-%d", np.Namespace, lo, hi)
			}
		}
	}
	if off, _ := render(t, "cbo-np", ns, []string{"watchNamespaces={" + a + "}"}); kinds(off)["NetworkPolicy"] != 0 {
		t.Errorf("NetworkPolicies without networkPolicy.enabled: %v", kinds(off))
	}
	apply(t, cp, manifest)

	// examples/networkpolicy is the chart's policy for the kustomize install.
	r, _ = render(t, "cassandra-backup-operator", "cassandra-backup-system", []string{"watchNamespaces={" + a + "}", "networkPolicy.enabled=true", "releaseLabels=false"})
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "examples", "networkpolicy", "agent-networkpolicy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var example map[string]any
	if err := yaml.Unmarshal(data, &example); err != nil {
		t.Fatal(err)
	}
	got := r.of("NetworkPolicy")
	if len(got) != 1 {
		t.Fatalf("%d NetworkPolicies for one namespace", len(got))
	}
	want, _ := json.Marshal(example["spec"])
	have, _ := json.Marshal(got[0].Object["spec"])
	if string(want) != string(have) {
		t.Errorf("examples/networkpolicy differs from the chart's rendering:\n%s\n%s", want, have)
	}
}
