package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

// TestVersionAndBuildInfo builds the operator as a release build does (version and commit
// by -ldflags) and checks --version and the build_info gauge on /metrics.
func TestVersionAndBuildInfo(t *testing.T) {
	const testVersion, testCommit = "v9.8.7", "0123abcd"
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-operator", "-ldflags", version.LDFlags(testVersion, testCommit))

	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "cassandra-backup-operator "+testVersion+" (commit "+testCommit+", go1.") {
		t.Errorf("--version printed %q", out)
	}

	cp := controlplane.Shared(t)
	metrics := controlplane.FreeAddr(t)
	p := controlplane.Run(t, bin, "--kubeconfig="+cp.KubeconfigPath, "--namespace="+cp.Namespace(t),
		"--metrics-bind-address="+metrics, "--health-probe-bind-address=0", "--webhook-port=0")
	var info map[string]string
	for deadline := time.Now().Add(60 * time.Second); info == nil && time.Now().Before(deadline) && !p.Exited(); {
		time.Sleep(100 * time.Millisecond)
		info = controlplane.ScrapeBuildInfo(metrics)
	}
	if info["version"] != testVersion || info["commit"] != testCommit || !strings.HasPrefix(info["go_version"], "go1.") {
		t.Fatalf("build_info labels %v, want version %s, commit %s and a Go version", info, testVersion, testCommit)
	}
}
