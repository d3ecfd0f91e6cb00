package cassandra_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// stage copies the live SSTables of src's ks.t into a staging directory under the first data
// directory of dst, the way the agent's download lays them out, and returns it with the
// staged Data.db contents.
func stage(t *testing.T, src, dst *fakecassandra.Node) (string, map[string]bool) {
	t.Helper()
	tb, _ := src.Table("ks", "t")
	dir := filepath.Join(dst.DataDirs()[0], ".restore-staging", "op", "ks", tb.DirName())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ss, err := src.SSTables("ks", "t")
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]bool{}
	for _, s := range ss {
		for _, f := range s.Files {
			b, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f.Name, "-Data.db") {
				data[string(b)] = true
			}
			if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir, data
}

// liveData returns the Data.db contents of the live SSTables of n's ks.t, and fails on a
// generation used twice.
func liveData(t *testing.T, n *fakecassandra.Node) map[string]bool {
	t.Helper()
	out, err := n.LiveData("ks", "t")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeSSTables(t *testing.T, n *fakecassandra.Node, count, size int) {
	t.Helper()
	for i := 0; i < count; i++ {
		if err := n.WriteSSTable("ks", "t", size+i); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadSSTables3x(t *testing.T) {
	ctx := context.Background()
	src := fakecassandra.New(t, fakecassandra.Config{Release: "3.11.17", Seed: 1})
	writeSSTables(t, src, 2, 2000)
	dst := fakecassandra.New(t, fakecassandra.Config{Release: "3.11.17", Seed: 2, DataDirs: []string{t.TempDir(), t.TempDir()}})
	writeSSTables(t, dst, 3, 500)
	before := liveData(t, dst)
	dir, staged := stage(t, src, dst) // mc-1 and mc-2: the names of live SSTables of dst

	if err := cassandra.LoadSSTables(ctx, dst.Client(), dst.DataDirs(), "ks", "t", dir); err != nil {
		t.Fatal(err)
	}
	after := liveData(t, dst)
	if len(after) != len(before)+len(staged) {
		t.Errorf("%d live SSTables, want %d", len(after), len(before)+len(staged))
	}
	for d := range staged {
		if !after[d] {
			t.Error("a staged SSTable is not live")
		}
	}
	for d := range before {
		if !after[d] {
			t.Error("a live SSTable was replaced")
		}
	}
	if dst.Calls("importNewSSTables") != 0 || dst.Calls("loadNewSSTables") != 1 {
		t.Errorf("calls: import %d, refresh %d", dst.Calls("importNewSSTables"), dst.Calls("loadNewSSTables"))
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d files left in the staging directory", len(left))
	}
	tb, _ := dst.Table("ks", "t")
	for _, d := range tb.Dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if desc, err := cassandra.ParseDescriptor(e.Name()); err == nil {
				if g, _ := strconv.Atoi(desc.Generation); g >= cassandra.GenerationGap {
					t.Errorf("%s kept its placed name", e.Name())
				}
			}
		}
	}
}

func TestLoadSSTables4x(t *testing.T) {
	ctx := context.Background()
	src := fakecassandra.New(t, fakecassandra.Config{Seed: 1})
	writeSSTables(t, src, 1, 2000)
	dst := fakecassandra.New(t, fakecassandra.Config{Seed: 2})
	writeSSTables(t, dst, 1, 500)
	dir, staged := stage(t, src, dst)
	if err := cassandra.LoadSSTables(ctx, dst.Client(), dst.DataDirs(), "ks", "t", dir); err != nil {
		t.Fatal(err)
	}
	if after := liveData(t, dst); len(after) != 2 || len(staged) != 1 {
		t.Errorf("%d live SSTables", len(after))
	}
	if dst.Calls("importNewSSTables") != 1 || dst.Calls("loadNewSSTables") != 0 {
		t.Errorf("calls: import %d, refresh %d", dst.Calls("importNewSSTables"), dst.Calls("loadNewSSTables"))
	}
}

// TestLoadSSTablesManagementAPI loads into a Cassandra 4 node controlled through the
// Management API, which has no import: the SSTables are placed in the table directory and
// the table refreshed.
func TestLoadSSTablesManagementAPI(t *testing.T) {
	ctx := context.Background()
	src := fakecassandra.New(t, fakecassandra.Config{Seed: 1})
	writeSSTables(t, src, 2, 2000)
	dst := fakecassandra.New(t, fakecassandra.Config{Seed: 2, ManagementAPI: true, DataDirs: []string{t.TempDir(), t.TempDir()}})
	writeSSTables(t, dst, 2, 500)
	before := liveData(t, dst)
	dir, staged := stage(t, src, dst)
	if err := cassandra.LoadSSTables(ctx, dst.ManagementAPIClient(), dst.DataDirs(), "ks", "t", dir); err != nil {
		t.Fatal(err)
	}
	after := liveData(t, dst)
	for d := range staged {
		if !after[d] {
			t.Error("a staged SSTable is not live")
		}
	}
	if len(after) != len(before)+len(staged) {
		t.Errorf("%d live SSTables, want %d", len(after), len(before)+len(staged))
	}
	if dst.Calls("importNewSSTables") != 0 || dst.Calls("loadNewSSTables") != 1 {
		t.Errorf("calls: import %d, refresh %d", dst.Calls("importNewSSTables"), dst.Calls("loadNewSSTables"))
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("%d files left in the staging directory", len(left))
	}
	// A backup of a newer format than the node reads is refused before anything is placed.
	newer := fakecassandra.New(t, fakecassandra.Config{Seed: 3, Release: "5.0.2", Version: "oa"})
	writeSSTables(t, newer, 1, 100)
	files := tableFiles(t, dst)
	oaDir, _ := stage(t, newer, dst)
	if err := cassandra.LoadSSTables(ctx, dst.ManagementAPIClient(), dst.DataDirs(), "ks", "t", oaDir); err == nil || !strings.Contains(err.Error(), "cannot read this format") {
		t.Errorf("oa SSTables into 4.1: %v", err)
	}
	if got := tableFiles(t, dst); len(got) != len(files) {
		t.Errorf("refused SSTables reached the table: %v", got)
	}
}

// tableFiles returns the names of the files directly in the table directories of n's ks.t.
func tableFiles(t *testing.T, n *fakecassandra.Node) []string {
	t.Helper()
	tb, _ := n.Table("ks", "t")
	var out []string
	for _, d := range tb.Dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if !e.IsDir() {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

func TestLoadSSTables3xFailures(t *testing.T) {
	ctx := context.Background()
	src := fakecassandra.New(t, fakecassandra.Config{Release: "3.11.17", Seed: 1})
	writeSSTables(t, src, 2, 2000)
	dst := fakecassandra.New(t, fakecassandra.Config{Release: "3.11.17", Seed: 2})
	writeSSTables(t, dst, 1, 500)
	files := tableFiles(t, dst)
	dir, _ := stage(t, src, dst)

	// The node fails the refresh: what was placed is taken back, the staged files stay.
	dst.SetHook(func(req jolokia.Request) error {
		if strings.HasPrefix(req.Operation, "loadNewSSTables") {
			return errors.New("disk failure")
		}
		return nil
	})
	if err := cassandra.LoadSSTables(ctx, dst.Client(), dst.DataDirs(), "ks", "t", dir); err == nil || !strings.Contains(err.Error(), "disk failure") {
		t.Fatalf("failed refresh: %v", err)
	}
	if got := tableFiles(t, dst); len(got) != len(files) {
		t.Errorf("table directory after a failed refresh: %v, want %v", got, files)
	}
	if staged, _ := cassandra.ReadSSTables(dir); len(staged) != 2 {
		t.Errorf("%d staged SSTables left, want 2", len(staged))
	}
	dst.SetHook(nil)

	// A backup of Cassandra 4 is refused before anything is placed.
	nb := fakecassandra.New(t, fakecassandra.Config{Seed: 3})
	writeSSTables(t, nb, 1, 100)
	nbDir, _ := stage(t, nb, dst)
	err := cassandra.LoadSSTables(ctx, dst.Client(), dst.DataDirs(), "ks", "t", nbDir)
	if err == nil || !strings.Contains(err.Error(), "cannot read this format") {
		t.Errorf("nb SSTables into 3.11: %v", err)
	}
	if got := tableFiles(t, dst); len(got) != len(files) || dst.Calls("loadNewSSTables") != 0 {
		t.Errorf("refused SSTables reached the table: %v", got)
	}
}

func TestLoadSSTables3xRecreatedTable(t *testing.T) {
	ctx := context.Background()
	src := fakecassandra.New(t, fakecassandra.Config{Release: "3.11.17", Seed: 1})
	writeSSTables(t, src, 1, 2000)
	dst := fakecassandra.New(t, fakecassandra.Config{Release: "3.11.17", Seed: 2})
	writeSSTables(t, dst, 1, 500)
	// The directory a dropped ks.t left behind, with its drop snapshot.
	dropped := filepath.Join(dst.DataDirs()[0], "ks", "t-00000000000000000000000000000001")
	if err := os.MkdirAll(filepath.Join(dropped, "snapshots", "dropped-1-t"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, staged := stage(t, src, dst)
	if err := cassandra.LoadSSTables(ctx, dst.Client(), dst.DataDirs(), "ks", "t", dir); err != nil {
		t.Fatal(err)
	}
	after := liveData(t, dst)
	for d := range staged {
		if !after[d] {
			t.Error("staged SSTable not loaded into the live table")
		}
	}
	if entries, _ := os.ReadDir(dropped); len(entries) != 1 {
		t.Errorf("dropped table's directory changed: %v", entries)
	}
	if dst.Calls("takeSnapshot") != 1 || dst.Calls("clearSnapshot") != 1 {
		t.Errorf("probe: takeSnapshot %d, clearSnapshot %d", dst.Calls("takeSnapshot"), dst.Calls("clearSnapshot"))
	}
	tb, _ := dst.Table("ks", "t")
	if snaps, _ := os.ReadDir(filepath.Join(tb.Dirs[0], "snapshots")); len(snaps) != 0 {
		t.Errorf("probe snapshot left: %v", snaps)
	}
}
