package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cassandra-backup-operator")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", version.LDFlags(testVersion, testCommit), "-o", bin, "./cmd/cassandra-backup-operator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "cassandra-backup-operator "+testVersion+" (commit "+testCommit+", go1.") {
		t.Errorf("--version printed %q", out)
	}

	cp := controlplane.Shared(t)
	metrics := controlplane.FreeAddr(t)
	cmd := exec.Command(bin, "--kubeconfig="+cp.KubeconfigPath, "--namespace="+cp.Namespace(t),
		"--metrics-bind-address="+metrics, "--health-probe-bind-address=0", "--webhook-port=0")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("operator log:\n%s", logs.String())
		}
	})
	want := version.MetricName + `{commit="` + testCommit + `",go_version="go1.`
	var body []byte
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			continue
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), want) && strings.Contains(string(body), `version="`+testVersion+`"} 1`) {
			return
		}
	}
	t.Fatalf("/metrics lacks %s…version=%q} 1:\n%s", want, testVersion, body)
}
