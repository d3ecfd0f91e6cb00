package security_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// serversTarget is one HTTP server of ours under attack.
type serversTarget struct {
	name string
	url  string // a GET that answers, for the idle attack
	post string // a path that reads a request body, for the slow body
}

// TestServersShedSlowClients runs the real agent and operator binaries and attacks each of
// their servers (agent operations API and metrics; operator metrics, health and webhook)
// three ways: headers sent a byte at a time (slowloris), a body that never finishes, and a
// kept-alive connection left idle. Every server must close each connection within
// serversBound; with no read or idle timeout a server holds it (and a goroutine) forever.
func TestServersShedSlowClients(t *testing.T) {
	bin := serversBinaries(t)
	t.Cleanup(func() { os.RemoveAll(bin) }) // the one test of this file that runs them
	cp := serversControlPlane(t)
	ns := cp.Namespace(t)

	agentAPI, agentMetrics := controlplane.FreeAddr(t), controlplane.FreeAddr(t)
	serversStart(t, nil, "http://"+agentAPI+"/healthz", bin+"/cassandra-backup-agent", append([]string{"serve",
		"--listen=" + agentAPI, "--metrics-listen=" + agentMetrics, "--jolokia-url=http://127.0.0.1:1/jolokia/",
		// The attacks are on the server's timeouts, which hold before and after the
		// token check; without a token check the handler reads the slow body too.
		"--insecure-skip-auth"}, serversTimeouts...)...)

	metrics, health := controlplane.FreeAddr(t), controlplane.FreeAddr(t)
	port, err := controlplane.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	hook := fmt.Sprintf("https://127.0.0.1:%d", port)
	serversStart(t, []string{"POD_NAMESPACE=" + ns}, hook+"/healthz", bin+"/cassandra-backup-operator", append([]string{
		"--kubeconfig=" + cp.KubeconfigPath, "--namespace=" + ns,
		"--metrics-bind-address=" + metrics, "--health-probe-bind-address=" + health,
		"--webhook-port=" + strconv.Itoa(port), "--webhook-bind-address=127.0.0.1", "--webhook-cert-ip=127.0.0.1",
		"--webhook-configuration=", "--agent-image=agent:test"}, serversTimeouts...)...)

	for _, target := range []serversTarget{
		{"agent operations API", "http://" + agentAPI + "/healthz", "/operations"},
		{"agent metrics", "http://" + agentMetrics + "/metrics", "/metrics"},
		{"operator metrics", "http://" + metrics + "/metrics", "/metrics"},
		{"operator health", "http://" + health + "/healthz", "/healthz"},
		{"operator webhook", hook + "/healthz", webhook.DefaultPath},
	} {
		t.Run(target.name, func(t *testing.T) {
			t.Run("slow headers", func(t *testing.T) {
				t.Parallel()
				c := serversDial(t, target.url)
				serversTrickle(c, "GET /healthz HTTP/1.1\r\nHost: attacker\r\n", "X-Slow: 1\r\n")
				serversExpectClosed(t, c)
			})
			t.Run("slow body", func(t *testing.T) {
				t.Parallel()
				c := serversDial(t, target.url)
				serversTrickle(c, "POST "+target.post+" HTTP/1.1\r\nHost: attacker\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", "{")
				serversExpectClosed(t, c)
			})
			t.Run("idle keep-alive", func(t *testing.T) {
				t.Parallel()
				c := serversDial(t, target.url)
				path := target.url[strings.Index(target.url[len("https://"):], "/")+len("https://"):]
				if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: attacker\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				r := bufio.NewReader(c)
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("first request: %v", err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Close {
					t.Fatalf("the server closed after the first answer (%d): no keep-alive to hold", resp.StatusCode)
				}
				serversExpectClosed(t, serversReaderConn{c, r})
			})
		})
	}
}

// serversDial connects to the server of url, over TLS for https.
func serversDial(t *testing.T, url string) net.Conn {
	t.Helper()
	addr := serversHostPort(url)
	var c net.Conn
	var err error
	if strings.HasPrefix(url, "https://") {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) // our own test server on 127.0.0.1
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serversTrickle writes head, then more every 300 ms until a write fails.
func serversTrickle(c net.Conn, head, more string) {
	io.WriteString(c, head)
	go func() {
		for {
			time.Sleep(300 * time.Millisecond)
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, more); err != nil {
				return
			}
		}
	}()
}

// serversReaderConn reads through a bufio.Reader that may hold buffered bytes.
type serversReaderConn struct {
	net.Conn
	r *bufio.Reader
}

func (c serversReaderConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// serversExpectClosed reads (discarding any answer, such as a 408) until the server
// closes the connection; past serversBound the server is defenceless.
func serversExpectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(serversBound))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server still held the connection after %s", serversBound)
	}
}

func serversInsecureTransport() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // our own test servers on 127.0.0.1
}
