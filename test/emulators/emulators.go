// Package emulators starts real storage servers on 127.0.0.1 (on the pod network's host
// side with CASSBACKUP_PODNET=1, where pods reach them) for tests: versitygw (S3),
// Azurite (Azure Blob) and fake-gcs-server (GCS). Each starter stops its server in
// t.Cleanup, and the server dies with the test process. When a server cannot be started
// the test fails with a message saying why; it never skips.
//
// Binaries come from VERSITYGW_BIN, AZURITE_BIN and FAKE_GCS_SERVER_BIN, or else from
// hack/tools.sh (which builds them once into a cache outside the clone).
package emulators

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

// startTimeout bounds how long a server may take to answer its first request.
const startTimeout = 90 * time.Second

var (
	toolsMu sync.Mutex
	tools   = map[string]string{}
)

// binary returns the path of tool (versitygw, azurite, fake-gcs-server): $TOOL_BIN when
// set, otherwise the cached build from hack/tools.sh, looked up once per process.
func binary(t testing.TB, tool string) string {
	t.Helper()
	toolsMu.Lock()
	defer toolsMu.Unlock()
	if p, ok := tools[tool]; ok {
		return p
	}
	p, err := controlplane.ToolPath(tool)
	if err != nil {
		t.Fatalf("emulators: %v", err)
	}
	tools[tool] = p
	return p
}

// address returns the host servers listen on (podnet.HostIP) and a port of it that was
// free a moment ago.
func address(t testing.TB) (string, int) {
	t.Helper()
	host, err := podnet.HostIP()
	if err != nil {
		t.Fatalf("emulators: %v", err)
	}
	port, err := controlplane.FreePortOn(host)
	if err != nil {
		t.Fatalf("emulators: no free port on %s: %v", host, err)
	}
	return host, port
}

// logBuffer keeps the last bytes a server printed, for failure messages.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - 64<<10; over > 0 {
		l.buf = l.buf[over:]
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// process is a running server.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{}
	err  error
}

// start runs the server and waits until ready(url) reports true; it fails t otherwise.
func start(t testing.TB, name string, env []string, readyURL string, ready func(*http.Response) bool, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	lb := &logBuffer{}
	cmd.Stdout, cmd.Stderr = lb, lb
	// The server dies with the test process even if cleanups never run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("emulators: cannot start %s (%s): %v", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, log: lb, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			t.Fatalf("emulators: %s exited before it was ready: %v\n%s", name, p.err, lb)
		default:
		}
		resp, err := client.Get(readyURL)
		if err == nil {
			ok := ready(resp)
			resp.Body.Close()
			if ok {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulators: %s did not answer %s within %s (last error: %v)\n%s", name, readyURL, startTimeout, err, lb)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop terminates the server's process group and waits for it.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func anyResponse(*http.Response) bool { return true }

func status200(r *http.Response) bool { return r.StatusCode == http.StatusOK }

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// ctx returns a context for a helper call bounded by the test's lifetime.
func ctx(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), time.Minute)
}
