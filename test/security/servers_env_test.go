package security_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// serversTimeouts are the --http-*-timeout flags the attacked binaries run with: short, so
// the attacks end quickly; serversBound is how long a connection may live at most under
// attack before the test calls the server defenceless (generous: 2 cores, shared).
var (
	serversTimeouts = []string{"--http-read-header-timeout=1s", "--http-read-timeout=2s", "--http-write-timeout=2s", "--http-idle-timeout=2s"}
	serversBound    = 20 * time.Second
)

var serversBuild struct {
	sync.Once
	dir string
	err error
}

// serversBinaries builds cassandra-backup-agent and cassandra-backup-operator once per
// test process and returns their directory.
func serversBinaries(t *testing.T) string {
	t.Helper()
	serversBuild.Do(func() {
		root, err := controlplane.RepoRoot()
		if err != nil {
			serversBuild.err = err
			return
		}
		serversBuild.dir, serversBuild.err = os.MkdirTemp("", "security-servers-")
		if serversBuild.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", serversBuild.dir+"/", "./cmd/cassandra-backup-agent", "./cmd/cassandra-backup-operator")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			serversBuild.err = &exec.ExitError{Stderr: out}
		}
	})
	if serversBuild.err != nil {
		t.Fatalf("build: %v", serversBuild.err)
	}
	return serversBuild.dir
}

// serversStart runs a binary until the test ends, its output in the test log on failure,
// and waits until url answers.
func serversStart(t *testing.T, env []string, url string, bin string, args ...string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), filepath.Base(bin)+".log")
	logf, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("log of %s:\n%s", filepath.Base(bin), b)
		}
	})
	client := &http.Client{Timeout: 2 * time.Second, Transport: serversInsecureTransport()}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-done:
			b, _ := os.ReadFile(log)
			t.Fatalf("%s exited:\n%s", bin, b)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("%s never answered %s", bin, url)
}

// serversControlPlane starts a control plane of the test's own (no TestMain: the package
// is shared) and stops it when the test ends.
func serversControlPlane(t *testing.T) *controlplane.ControlPlane {
	t.Helper()
	cp, err := controlplane.Start(t.Context(), controlplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	return cp
}

func serversHostPort(url string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
	return s[:strings.IndexByte(s, '/')]
}
