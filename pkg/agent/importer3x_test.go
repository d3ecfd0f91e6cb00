package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// liveDataDBs returns the Data.db contents of a table's live SSTables (index SSTables
// excluded), failing the test on a generation used twice.
func liveDataDBs(t *testing.T, n *fakecassandra.Node, ks, table string) map[string]bool {
	t.Helper()
	out, err := n.LiveData(ks, table)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func indexSSTables(t *testing.T, n *fakecassandra.Node, ks, table string) int {
	t.Helper()
	ss, err := n.SSTables(ks, table)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, s := range ss {
		if s.Index != "" {
			count++
		}
	}
	return count
}

// TestRestoreLiveRefresh3x restores a keyspace into a running Cassandra 3.11 node, which has
// no importNewSSTables: the agent places the SSTables in the live table directories and
// refreshes the tables.
func TestRestoreLiveRefresh3x(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{Release: "3.11.17", DataDirs: []string{t.TempDir(), t.TempDir()}})
	e.populate()
	tables := []string{"t1", "t2"}
	backedUp := map[string]map[string]bool{}
	for _, tb := range tables {
		backedUp[tb] = liveDataDBs(t, e.node, "ks1", tb)
	}
	if o := e.submit(e.request(api.TypeBackup, "live")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	// Writes after the backup: the live generations reach past the backed-up ones.
	for _, tb := range tables {
		if err := e.node.WriteSSTable("ks1", tb, 700); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string]map[string]bool{}
	for _, tb := range tables {
		before[tb] = liveDataDBs(t, e.node, "ks1", tb)
	}
	indexesBefore := indexSSTables(t, e.node, "ks1", "t1")

	req := e.request(api.TypeRestore, "live")
	req.Entities = "ks1"
	req.RestorationStrategyType = "IMPORT"
	o := e.submit(req)
	if o.State != api.StateCompleted || o.Progress != 1 {
		t.Fatalf("restore: %+v", o)
	}
	if e.node.Calls("importNewSSTables") != 0 || e.node.Calls("loadNewSSTables") != len(tables) {
		t.Errorf("calls: importNewSSTables %d, loadNewSSTables %d", e.node.Calls("importNewSSTables"), e.node.Calls("loadNewSSTables"))
	}
	for _, tb := range tables {
		after := liveDataDBs(t, e.node, "ks1", tb)
		// Restored SSTables hold the same data as live ones, so count the live SSTables.
		ss, _ := e.node.SSTables("ks1", tb)
		n := 0
		for _, s := range ss {
			if s.Index == "" {
				n++
			}
		}
		if want := len(before[tb]) + len(backedUp[tb]); n != want {
			t.Errorf("ks1.%s: %d live SSTables, want %d", tb, n, want)
		}
		for d := range backedUp[tb] {
			if !after[d] {
				t.Errorf("ks1.%s: a backed-up SSTable is not live", tb)
			}
		}
		for d := range before[tb] {
			if !after[d] {
				t.Errorf("ks1.%s: a live SSTable was replaced", tb)
			}
		}
		table, _ := e.node.Table("ks1", tb)
		for _, d := range table.Dirs {
			entries, _ := os.ReadDir(d)
			for _, en := range entries {
				if desc, err := cassandra.ParseDescriptor(en.Name()); err == nil {
					if g, _ := strconv.Atoi(desc.Generation); g >= cassandra.GenerationGap {
						t.Errorf("%s: not loaded by the refresh", en.Name())
					}
				}
			}
		}
	}
	// The index of ks1.t1 was built for each loaded SSTable, not restored.
	if got, want := indexSSTables(t, e.node, "ks1", "t1"), indexesBefore+len(backedUp["t1"]); got != want {
		t.Errorf("ks1.t1 has %d index SSTables after the refresh, want %d", got, want)
	}
	staging := filepath.Join(e.node.DataDirs()[0], StagingDir)
	if left, _ := os.ReadDir(staging); len(left) != 0 {
		t.Errorf("staging directory left: %v", left)
	}
}
