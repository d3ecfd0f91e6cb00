package controlplane

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RepoRoot is the directory holding the project's go.mod, found by walking up from
// the working directory (go test runs in the package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/cassbackup/cassandra-backup-operator\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the project's go.mod was not found above the working directory")
		}
		dir = parent
	}
}

// GoBuild builds the project's package pkg (relative to the repository root, as in
// ./cmd/cassandra-backup-agent) into a temporary directory of t and returns the binary's
// path; it fails t when the build fails. flags go to go build (e.g. -ldflags).
func GoBuild(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, pkg)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// ToolPath returns the path of an external program the tests run (kube-apiserver, etcd,
// versitygw, …): the environment variable NAME_BIN when set (upper case, '-' as '_'),
// otherwise the cached build from hack/tools.sh, which builds it on first use.
func ToolPath(name string) (string, error) {
	env := strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_BIN"
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "hack", "tools.sh"), name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/tools.sh %s could not build %s (set %s to use another binary): %w\n%s", name, name, env, err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k == name {
			return v, nil
		}
	}
	return "", fmt.Errorf("hack/tools.sh %s printed no path for %s", name, name)
}
