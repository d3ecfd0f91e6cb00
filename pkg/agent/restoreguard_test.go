package agent

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// manifestKeys returns the bucket keys of the node's manifests of tag, oldest first.
func (e *env) manifestKeys(tag string) []string {
	e.t.Helper()
	ms, _ := filepath.Glob(filepath.Join(e.bucket, "*", "*", "*", "manifests", tag+"-*.json"))
	var keys []string
	for _, m := range ms {
		rel, _ := filepath.Rel(e.bucket, m)
		keys = append(keys, filepath.ToSlash(rel))
	}
	sort.Strings(keys)
	return keys
}

// TestRestorePlannedManifest: a later backup with the same tag and a tiny entities list
// does not become the restore; the init container restores exactly the plan's manifest,
// and without one (an old plan) refuses a tag with several manifests.
func TestRestorePlannedManifest(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submit(e.request(api.TypeBackup, "p")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	planned := e.manifestKeys("p")
	if len(planned) != 1 {
		t.Fatalf("manifests %v", planned)
	}
	tiny := e.request(api.TypeBackup, "p")
	tiny.Entities = "ks2"
	if o := e.submit(tiny); o.State != api.StateCompleted {
		t.Fatalf("tiny backup: %+v", o)
	}
	if keys := e.manifestKeys("p"); len(keys) != 2 {
		t.Fatalf("manifests after the tiny backup: %v", keys)
	}

	spec := e.restoreSpec("p")
	spec.ManifestKey = planned[0]
	res, err := fileAgent().Restore(context.Background(), spec, &Tracker{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(res.Key, "|"+planned[0]) {
		t.Errorf("restored %s, want the planned manifest %s", res.Key, planned[0])
	}
	if got := liveFiles(t, spec.DataDirs, func(ks, _ string) bool { return ks == "ks1" }); len(got) == 0 {
		t.Error("ks1 not restored: the tiny manifest was taken")
	}

	old := e.restoreSpec("p")
	if _, err := fileAgent().Restore(context.Background(), old, &Tracker{}); err == nil || !strings.Contains(err.Error(), "2 manifests of snapshot p") {
		t.Errorf("restore without --manifest-key of a tag with two manifests: %v", err)
	}
	other := e.restoreSpec("p")
	other.ManifestKey = strings.Replace(planned[0], "/manifests/", "/data/", 1)
	if _, err := fileAgent().Restore(context.Background(), other, &Tracker{}); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("restore of a --manifest-key outside the node's manifests: %v", err)
	}
}

// TestRestoreRefusesForeignData: the init container never writes into a data directory
// holding SSTables it did not restore under the same plan, and says why.
func TestRestoreRefusesForeignData(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	for _, tag := range []string{"a", "b"} {
		if o := e.submit(e.request(api.TypeBackup, tag)); o.State != api.StateCompleted {
			t.Fatalf("backup %s: %+v", tag, o)
		}
	}
	tb, _ := e.node.Table("ks1", "t1")

	// A live node's data: an SSTable and a commit log, no marker.
	spec := e.restoreSpec("a")
	spec.ManifestKey = e.manifestKeys("a")[0]
	live := filepath.Join(spec.DataDirs[0], "ks1", tb.DirName(), "nb-900-big-Data.db")
	commitLog := filepath.Join(spec.CommitLogDir, "CommitLog-7-1.log")
	for _, f := range []string{live, commitLog} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("newer data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := fileAgent().Restore(context.Background(), spec, &Tracker{})
	if err == nil || !strings.Contains(err.Error(), "holds SSTables this restore did not write") || !strings.Contains(err.Error(), "no restore marker") {
		t.Fatalf("restore over a live node's data: %v", err)
	}
	for _, f := range []string{live, commitLog} {
		if b, err := os.ReadFile(f); err != nil || string(b) != "newer data" {
			t.Errorf("%s after the refused restore: %q %v", f, b, err)
		}
	}

	// Restored under plan a; a pod injected with plan b (spec.restore pointed elsewhere).
	spec = e.restoreSpec("a")
	spec.ManifestKey = e.manifestKeys("a")[0]
	if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(spec.DataDirs[0], "ks1", tb.DirName(), "nb-901-big-Data.db")
	if err := os.WriteFile(newer, []byte("written after the restore"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := spec
	b.SnapshotTag, b.ManifestKey = "b", e.manifestKeys("b")[0]
	_, err = fileAgent().Restore(context.Background(), b, &Tracker{})
	if err == nil || !strings.Contains(err.Error(), "restored under another plan") || !strings.Contains(err.Error(), spec.ManifestKey) {
		t.Fatalf("restore of plan b over plan a's node: %v", err)
	}
	if got, err := os.ReadFile(newer); err != nil || string(got) != "written after the restore" {
		t.Errorf("the node's newer SSTable after the refused restore: %q %v", got, err)
	}
	// The same plan again: already done, nothing touched.
	res, err := fileAgent().Restore(context.Background(), spec, &Tracker{})
	if err != nil || !res.AlreadyDone {
		t.Errorf("the same plan again: %+v %v", res, err)
	}
}
