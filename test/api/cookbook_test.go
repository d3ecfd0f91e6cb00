package api_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// cookbookBlocks returns the YAML blocks of the README's "Restore cookbook" section.
func cookbookBlocks(t *testing.T) []string {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Restore cookbook\n")
	if !ok {
		t.Fatal(`README has no "## Restore cookbook" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// Every YAML block of the restore cookbook applies as printed on the real API server
// (schema, defaults and CEL rules of the CRDs), each into a namespace of its own.
func TestRestoreCookbookApplies(t *testing.T) {
	cp := controlplane.Shared(t)
	blocks := cookbookBlocks(t)
	kindRE := regexp.MustCompile(`(?m)^kind: (\w+)$`)
	kinds := map[string]bool{}
	for _, b := range blocks {
		for _, m := range kindRE.FindAllStringSubmatch(b, -1) {
			kinds[m[1]] = true
		}
	}
	for _, k := range []string{"CassandraDataCenter", "CassandraBackupLocation", "CassandraRestore", "CassandraBackupVerification"} {
		if !kinds[k] {
			t.Errorf("the cookbook has no %s entry (kinds %v)", k, kinds)
		}
	}
	for i, b := range blocks {
		ns := cp.Namespace(t)
		out, err := cp.Kubectl(t.Context(), []byte(b), "apply", "-n", ns, "-f", "-")
		if err != nil {
			t.Errorf("cookbook block %d does not apply: %v\n%s", i+1, err, b)
			continue
		}
		if n := len(regexp.MustCompile(`(?m) created$`).FindAllString(out, -1)); n != len(kindRE.FindAllString(b, -1)) {
			t.Errorf("cookbook block %d: kubectl created %d objects: %q", i+1, n, out)
		}
	}
}
