package controlplane

import (
	"path/filepath"
	"testing"
)

// Process is a program a test runs (an operator binary, for example).
type Process struct{ p *process }

// Run starts bin with args for the rest of t: it dies with the test process, is stopped at
// cleanup, and the tail of its log is printed when t failed.
func Run(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	p, err := startProcess(bin, filepath.Join(t.TempDir(), filepath.Base(bin)+".log"), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Log(p.logTail())
		}
	})
	return &Process{p}
}

// Stop sends SIGTERM and waits for the process to exit; after ten seconds it is killed.
func (p *Process) Stop() { p.p.stop() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool { return p.p.exited() }

// LogTail returns the last lines of the process's output.
func (p *Process) LogTail() string { return p.p.logTail() }
