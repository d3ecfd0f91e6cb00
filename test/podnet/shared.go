package podnet

import (
	"fmt"
	"os"
	"sync"
)

// EnvVar names the environment variable that puts the test suites' pods on the pod
// network: CASSBACKUP_PODNET=1. Unset or 0, pods share the test process's loopback.
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
