package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// `serve` never serves an open API by default: with no Kubernetes configuration, or with
// one but no pod namespace, it exits with a message naming what is missing (the other
// tests of this package pass --insecure-skip-auth explicitly).
func TestServeRefusesToRunWithoutAuth(t *testing.T) {
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-agent")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: c\n  context: {cluster: c}\ncurrent-context: c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no Kubernetes configuration", nil, "--insecure-skip-auth"},
		{"no pod namespace", []string{"--kubeconfig=" + kubeconfig}, "--pod-namespace"},
	} {
		cmd := exec.Command(bin, append([]string{"serve", "--listen", controlplane.FreeAddr(t), "--jolokia-url", "http://127.0.0.1:1/jolokia/"}, tt.args...)...)
		cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST=", "POD_NAMESPACE=")
		out, err := cmd.CombinedOutput()
		if _, ok := err.(*exec.ExitError); !ok || !strings.Contains(string(out), tt.want) {
			t.Errorf("%s: exit %v, output %q; want a failure naming %s", tt.name, err, out, tt.want)
		}
	}
}
