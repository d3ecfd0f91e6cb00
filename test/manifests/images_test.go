package manifests_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// TestOneImageVariable renders the kustomization with another registry and tag in its
// images: list and checks that both the operator's image and the agent image it injects
// (AGENT_IMAGE, passed as --agent-image) follow.
func TestOneImageVariable(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "manifests")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "manifests"))); err != nil {
		t.Fatal(err)
	}
	k := filepath.Join(dir, "kustomization.yaml")
	data, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	edited := string(data)
	for _, name := range []string{"operator", "agent"} {
		from := "- name: ghcr.io/cassbackup/cassandra-backup-" + name + "\n  newTag: v0.1.0\n"
		if !strings.Contains(edited, from) {
			t.Fatalf("kustomization.yaml has no images: entry %q", from)
		}
		edited = strings.Replace(edited, from, "- name: ghcr.io/cassbackup/cassandra-backup-"+name+"\n  newName: registry.example/"+name+"\n  newTag: v9.9.9\n", 1)
	}
	if err := os.WriteFile(k, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("kubectl", "kustomize", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	var dep appsv1.Deployment
	for _, doc := range strings.Split(string(out), "\n---\n") {
		if strings.Contains(doc, "kind: Deployment\n") {
			if err := yaml.Unmarshal([]byte(doc), &dep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(dep.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("no operator Deployment with one container in the rendered manifests")
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example/operator:v9.9.9" {
		t.Errorf("operator image %q, want registry.example/operator:v9.9.9", c.Image)
	}
	var agentImage string
	for _, e := range c.Env {
		if e.Name == "AGENT_IMAGE" {
			agentImage = e.Value
		}
	}
	if agentImage != "registry.example/agent:v9.9.9" || !slices.Contains(c.Args, "--agent-image=$(AGENT_IMAGE)") {
		t.Errorf("agent image %q, args %v; want AGENT_IMAGE=registry.example/agent:v9.9.9 passed as --agent-image", agentImage, c.Args)
	}
}
