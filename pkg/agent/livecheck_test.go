package agent

import (
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
