package kubectlplugin_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// TestTerminal runs the built plugin on a pseudo-terminal, as a user does: describe draws
// progress bars, and watch redraws in place (clear screen) until the backup ends.
func TestTerminal(t *testing.T) {
	e := newEnv(t)
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "kubectl-cassandra_backup")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-cassandra_backup")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	onTTY := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, append([]string{"--kubeconfig", e.kubeconfig, "-n", e.ns}, args...)...)
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out bytes.Buffer
		// Reading ends with EIO once the program exits and the terminal closes.
		_, _ = io.Copy(&out, f)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v on a terminal: %v\n%s", args, err, out.String())
		}
		return out.String()
	}

	out := onTTY("describe", "nightly-2")
	// r1-0 is half uploaded: a bar of 20 cells with 9 filled (49%), then r2-0 full.
	for _, want := range []string{"[" + strings.Repeat("█", 9) + strings.Repeat("░", 11) + "] 49%", "[" + strings.Repeat("█", 20) + "] 100%"} {
		if !strings.Contains(out, want) {
			t.Fatalf("describe on a terminal lacks %q:\n%s", want, out)
		}
	}

	out = onTTY("watch", "nightly-1")
	if !strings.HasPrefix(out, "\x1b[H\x1b[2J") || !strings.Contains(out, "State:         COMPLETED") || !strings.Contains(out, "] 100%") {
		t.Fatalf("watch on a terminal did not redraw the description:\n%q", out)
	}

	// The same command on a pipe prints plain lines, no escape sequences nor bars.
	cmd := exec.Command(bin, "--kubeconfig", e.kubeconfig, "-n", e.ns, "describe", "nightly-2")
	cmd.Stderr = os.Stderr
	plain, err := cmd.Output()
	if err != nil || bytes.ContainsAny(plain, "\x1b█") {
		t.Fatalf("describe on a pipe: %v\n%s", err, plain)
	}
}
