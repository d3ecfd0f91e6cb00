package main

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

const (
	testVersion = "v9.8.7"
	testCommit  = "0123abcd"
)

// buildVersioned builds the agent as a release build does: version and commit by -ldflags.
func buildVersioned(t *testing.T) string {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cassandra-backup-agent")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", version.LDFlags(testVersion, testCommit), "-o", bin, "./cmd/cassandra-backup-agent")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestVersion(t *testing.T) {
	bin := buildVersioned(t)
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", arg, err, out)
		}
		line := string(out)
		if !strings.HasPrefix(line, "cassandra-backup-agent "+testVersion+" (commit "+testCommit+", go1.") {
			t.Errorf("%s printed %q", arg, line)
		}
	}

	// The API names the version in a header (the operator's skew check reads it); the
	// metrics endpoint, when enabled, exports build_info.
	node := fakecassandra.New(t, fakecassandra.Config{})
	metrics := controlplane.FreeAddr(t)
	_, url := startServe(t, bin, node, "--metrics-listen", metrics)
	resp, err := http.Get(url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := version.AgentVersion(resp.Header); got != testVersion {
		t.Errorf("GET /status: agent version %q, want %q", got, testVersion)
	}
	resp, err = http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := version.MetricName + `{commit="` + testCommit + `",go_version="go1.`
	if !strings.Contains(string(body), want) || !strings.Contains(string(body), `version="`+testVersion+`"} 1`) {
		t.Errorf("/metrics lacks %s…version=%q} 1:\n%s", want, testVersion, body)
	}
}
