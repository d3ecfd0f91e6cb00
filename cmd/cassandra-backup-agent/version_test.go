package main

import (
	"net/http"
	"os/exec"
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

// TestVersion builds the agent as a release build does (version and commit by -ldflags)
// and checks --version, the API's version header and the build_info gauge.
func TestVersion(t *testing.T) {
	bin := controlplane.GoBuild(t, "./cmd/cassandra-backup-agent", "-ldflags", version.LDFlags(testVersion, testCommit))
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
	info := controlplane.ScrapeBuildInfo(metrics)
	if info["version"] != testVersion || info["commit"] != testCommit || !strings.HasPrefix(info["go_version"], "go1.") {
		t.Errorf("build_info labels %v, want version %s, commit %s and a Go version", info, testVersion, testCommit)
	}
}
