package agent

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// liveRequest is a live restore of ks1.t2 from snapshot tag in phase.
func (e *env) liveRequest(tag, phase string) api.Request {
	req := e.request(api.TypeRestore, tag)
	req.Entities, req.RestorationStrategyType, req.RestorationPhase = "ks1.t2", "IMPORT", phase
	return req
}

// TestRestoreLivePhases: CHECK changes nothing, TRUNCATE empties the table, and the
// import then leaves exactly the backed-up SSTables.
func TestRestoreLivePhases(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	backedUp, _ := e.node.LiveData("ks1", "t2")
	if o := e.submit(e.request(api.TypeBackup, "ph")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	if err := e.node.WriteSSTable("ks1", "t2", 1234); err != nil {
		t.Fatal(err)
	}
	if o := e.submit(e.liveRequest("ph", api.PhaseCheck)); o.State != api.StateCompleted || e.node.Calls("truncate")+e.node.Calls("importNewSSTables") != 0 {
		t.Fatalf("check: %+v, truncate %d, import %d", o, e.node.Calls("truncate"), e.node.Calls("importNewSSTables"))
	}
	if ss, _ := e.node.SSTables("ks1", "t2"); len(ss) != 2 {
		t.Fatalf("after CHECK %d SSTables, want 2", len(ss))
	}
	if o := e.submit(e.liveRequest("ph", api.PhaseTruncate)); o.State != api.StateCompleted {
		t.Fatalf("truncate: %+v", o)
	}
	if ss, _ := e.node.SSTables("ks1", "t2"); len(ss) != 0 {
		t.Fatalf("after TRUNCATE %d SSTables", len(ss))
	}
	if o := e.submit(e.liveRequest("ph", "")); o.State != api.StateCompleted {
		t.Fatalf("import: %+v", o)
	}
	got, _ := e.node.LiveData("ks1", "t2")
	if len(got) != len(backedUp) {
		t.Fatalf("after import %d SSTables, want the backup's %d", len(got), len(backedUp))
	}
	for d := range backedUp {
		if !got[d] {
			t.Error("a backed-up SSTable is missing after the import")
		}
	}
}

// TestRestoreLiveRefusals: a table with another id than the backup's, and a headroom the
// disk cannot keep, fail the operation before anything is downloaded or imported.
func TestRestoreLiveRefusals(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submit(e.request(api.TypeBackup, "rf")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	req := e.liveRequest("rf", "")
	req.MinFreeBytes = 1 << 62
	o := e.submit(req)
	if o.State != api.StateFailed || !strings.Contains(o.Errors[0].Message, "not enough disk space") || o.BytesTransferred != 0 {
		t.Errorf("headroom: %+v", o)
	}
	if _, err := e.node.RecreateTable("ks1", "t2"); err != nil {
		t.Fatal(err)
	}
	o = e.submit(e.liveRequest("rf", ""))
	if o.State != api.StateFailed || !strings.Contains(o.Errors[0].Message, "table ks1.t2") || !strings.Contains(o.Errors[0].Message, "table id") || o.BytesTransferred != 0 {
		t.Errorf("table id: %+v", o)
	}
	if e.node.Calls("importNewSSTables") != 0 {
		t.Error("imported")
	}
}

// TestSubmitKey: a request with the key of a known operation gets that operation back.
func TestSubmitKey(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	req := e.request(api.TypeBackup, "key")
	req.Key = "restore-uid/node-0/IMPORT/0/1"
	first := e.submit(req)
	var again api.Operation
	e.do("POST", "/operations", req, &again)
	if again.ID != first.ID || again.State != api.StateCompleted {
		t.Fatalf("resubmitted with the same key: %+v, first %+v", again, first)
	}
	req.Key = "restore-uid/node-0/IMPORT/0/2"
	if o := e.submit(req); o.ID == first.ID {
		t.Fatal("another key got the same operation")
	}
}

// TestRestoreLiveSchemaMismatch: an ALTER TABLE since the backup (a column added, a
// column's type changed by a drop and an add) keeps the table id but fails the CHECK
// with the first difference, before anything is downloaded; the snapshot the check takes
// to read the node's schema is cleared.
func TestRestoreLiveSchemaMismatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []string
		want    string
	}{
		{"column added", []string{"ADD extra int"}, "column extra (int) on the node is not in the backup"},
		{"type changed", []string{"DROP value", "ADD value int"}, "column value is blob in the backup, int on the node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, fakecassandra.Config{})
			e.populate()
			if o := e.submit(e.request(api.TypeBackup, "sm")); o.State != api.StateCompleted {
				t.Fatalf("backup: %+v", o)
			}
			if o := e.submit(e.liveRequest("sm", api.PhaseCheck)); o.State != api.StateCompleted {
				t.Fatalf("check before the ALTER: %+v", o)
			}
			for _, c := range tc.changes {
				if err := e.node.AlterTable("ks1", "t2", c); err != nil {
					t.Fatal(err)
				}
			}
			for _, phase := range []string{api.PhaseCheck, ""} {
				o := e.submit(e.liveRequest("sm", phase))
				if o.State != api.StateFailed || !strings.HasPrefix(o.Errors[0].Message, api.SchemaMismatchPrefix+"table ks1.t2: "+tc.want) || o.BytesTransferred != 0 {
					t.Errorf("phase %q: %+v", phase, o)
				}
			}
			if e.node.Calls("importNewSSTables") != 0 {
				t.Error("imported")
			}
			probes, _ := filepath.Glob(filepath.Join(e.node.DataDirs()[0], "ks1", "t2-*", "snapshots", "restore-probe-*"))
			if len(probes) != 0 {
				t.Errorf("probe snapshots left: %v", probes)
			}
		})
	}
}
