package emulators

import (
	"errors"
	"net"
	"net/http"
	"testing"
)

// A port another test's server took between the free-port probe and the emulator's bind
// is not mistaken for the emulator: Azurite exits, and start reports it so that the
// server is started again on another port.
func TestForeignServerOnThePort(t *testing.T) {
	host, port := address(t)
	l, err := net.Listen("tcp", hostPort(host, port))
	if err != nil {
		t.Fatal(err)
	}
	foreign := &http.Server{Handler: http.NotFoundHandler()}
	go foreign.Serve(l)
	t.Cleanup(func() { foreign.Close() })

	s := azuriteServer(binary(t, "azurite"))
	url, args := s.on(host, port)
	p, err := launch(t, s, url, args)
	if err == nil {
		p.stop()
		t.Fatalf("launch on a port another server holds (%s) reported Azurite ready", hostPort(host, port))
	}
	if !errors.Is(err, errExited) {
		t.Fatalf("launch: %v, want %v", err, errExited)
	}

	a := Azurite(t) // on a free port: ready, and the SDK can create a container
	a.CreateContainer(t, "after-retry")
}
