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
	"errors"
	"fmt"
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

// server says how to run one emulator.
type server struct {
	name string
	bin  string
	env  []string
	// ready reports whether an answer to the readiness URL comes from this server (and
	// not from another test's server that took the port first).
	ready func(*http.Response) bool
	// on returns the readiness URL and the arguments that make the server listen on
	// host:port.
	on func(host string, port int) (readyURL string, args []string)
}

// startAttempts bounds how often a server is started on another port when it exits
// before it is ready (the free port was taken in between by another test process).
const startAttempts = 3

// start runs the server on a free port until it is ready, and returns its address; it
// fails t otherwise.
func start(t testing.TB, s server) (string, int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		host, port := address(t)
		readyURL, args := s.on(host, port)
		p, err := launch(t, s, readyURL, args)
		if err == nil {
			t.Cleanup(p.stop)
			return host, port
		}
		if !errors.Is(err, errExited) || attempt == startAttempts {
			t.Fatalf("emulators: %v", err)
		}
		t.Logf("emulators: %v; starting it on another port", err)
	}
}

var errExited = errors.New("exited before it was ready")

// launch runs one server process and waits until it answers readyURL.
func launch(t testing.TB, s server, readyURL string, args []string) (*process, error) {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Dir = t.TempDir()
	lb := &logBuffer{}
	cmd.Stdout, cmd.Stderr = lb, lb
	// The server dies with the test process even if cleanups never run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s (%s): %w", s.name, s.bin, err)
	}
	p := &process{name: s.name, cmd: cmd, log: lb, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s %w (%v)\n%s", s.name, errExited, p.err, lb)
		default:
		}
		resp, err := client.Get(readyURL)
		if err == nil {
			ok := s.ready(resp)
			resp.Body.Close()
			if ok {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not answer %s within %s (last error: %v)\n%s", s.name, readyURL, startTimeout, err, lb)
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

func status200(r *http.Response) bool { return r.StatusCode == http.StatusOK }

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// ctx returns a context for a helper call bounded by the test's lifetime.
func ctx(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), time.Minute)
}
