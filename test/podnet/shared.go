package podnet

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// EnvVar names the environment variable that puts the test suites' pods on the pod
// network: CASSBACKUP_PODNET=1. With 0, pods share the test process's loopback; unset,
// the suites that call DefaultWhenRoot use the pod network when running as root.
const EnvVar = "CASSBACKUP_PODNET"

// Enabled tells whether EnvVar asks for the pod network.
func Enabled() bool {
	v := os.Getenv(EnvVar)
	return v != "" && v != "0"
}

var shared struct {
	mu  sync.Mutex
	n   *Network
	err error
}

// Shared returns the network shared by the tests of one process, opening it on first
// use. Call CloseShared when the tests end (controlplane.Main does).
func Shared() (*Network, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.n == nil && shared.err == nil {
		shared.n, shared.err = Open()
		if shared.err != nil {
			shared.err = fmt.Errorf("%s=%s asks for the pod network: %w", EnvVar, os.Getenv(EnvVar), shared.err)
		}
	}
	return shared.n, shared.err
}

// CloseShared removes the shared network, if it was opened.
func CloseShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.n == nil {
		return nil
	}
	err := shared.n.Close()
	shared.n = nil
	return err
}

// HostIP is the address the test's servers (kube-apiserver, storage emulators) listen
// on: the shared network's host side when Enabled, else 127.0.0.1. It fails, never
// falls back, when the pod network is asked for and cannot be created.
func HostIP() (string, error) {
	if !Enabled() {
		return "127.0.0.1", nil
	}
	n, err := Shared()
	if err != nil {
		return "", err
	}
	return n.Host.String(), nil
}

// FromEnv returns the shared network when Enabled, and nil otherwise.
func FromEnv() (*Network, error) {
	if !Enabled() {
		return nil, nil
	}
	return Shared()
}

// DefaultWhenRoot makes the pod network this process's default when it runs as root and
// EnvVar is unset, by setting EnvVar=1; EnvVar=0 keeps loopback. Without root and with
// EnvVar unset, it says in one line to w that pods share 127.0.0.1. The walkthrough,
// test/backup, test/restore and the demo call it first thing.
func DefaultWhenRoot(w io.Writer) {
	if _, set := os.LookupEnv(EnvVar); set {
		return
	}
	if os.Geteuid() != 0 {
		fmt.Fprintf(w, "podnet: not root, so test pods share 127.0.0.1 (%s=1 requires the pod network)\n", EnvVar)
		return
	}
	os.Setenv(EnvVar, "1")
}
