// Package alerts_test unit-tests the chart's PrometheusRule with promtool's `test rules`:
// the rules are rendered from the chart by helm (so what ships is what is tested) and run
// against the synthetic series of testdata/alerts.test.yaml.
package alerts_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin, err := controlplane.ToolPath(name)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// rules renders the chart's PrometheusRule with set and writes its groups as a Prometheus
// rule file into dir.
func rules(t *testing.T, dir string, set ...string) string {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"template", "r", filepath.Join(root, "charts", "cassandra-backup-operator"),
		"--show-only", "templates/operator/prometheusrule.yaml", "--set", "prometheusRule.enabled=true"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var o unstructured.Unstructured
	if err := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(tool(t, "helm", args...)), 4096).Decode(&o.Object); err != nil {
		t.Fatal(err)
	}
	if o.GetKind() != "PrometheusRule" {
		t.Fatalf("rendered %s, want a PrometheusRule", o.GetKind())
	}
	groups, _, _ := unstructured.NestedSlice(o.Object, "spec", "groups")
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAlerts runs testdata/alerts.test.yaml: among others, "no successful backup in 2h"
// fires two hours after the last completed backup and clears after the next one.
func TestAlerts(t *testing.T) {
	dir := t.TempDir()
	rules(t, dir, "prometheusRule.noSuccessfulBackupHours=2", "prometheusRule.restoreStuckAfter=1h")
	tool(t, "promtool", "check", "rules", filepath.Join(dir, "rules.yaml"))
	src, err := os.ReadFile(filepath.Join("testdata", "alerts.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := filepath.Join(dir, "alerts.test.yaml")
	if err := os.WriteFile(tests, src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log(tool(t, "promtool", "test", "rules", tests))
}
