package controlplane

import (
	"net"
	"strconv"
	"testing"
)

// freePorts returns n distinct ports of the local address host that were free a moment ago.
func freePorts(host string, n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) { return FreePortOn("127.0.0.1") }

// FreePortOn returns a port of the local address host that was free a moment ago.
func FreePortOn(host string) (int, error) {
	ports, err := freePorts(host, 1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreeAddr returns 127.0.0.1:<port> for a port that was free a moment ago; it fails t
// when there is none.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatalf("no free port on 127.0.0.1: %v", err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}
