package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// submitUID submits a backup through the agent client, which sends the uid header, and
// waits until it ends.
func (e *env) submitUID(req api.Request, uid string) api.Operation {
	e.t.Helper()
	req.BackupUID = uid
	o, err := (&client.Client{}).Submit(context.Background(), e.url, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.wait(o.ID)
}

// TestBackupUID: a repeat of a backup uid reports the existing result and writes no
// second manifest; once the tag is committed, a backup of another uid or of none is
// refused, and the tag keeps its one manifest.
func TestBackupUID(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submitUID(e.request(api.TypeBackup, "u"), "uid-1"); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	first := e.manifestKeys("u")
	if o := e.submitUID(e.request(api.TypeBackup, "u"), "uid-1"); o.State != api.StateCompleted {
		t.Fatalf("repeat: %+v", o)
	}
	if keys := e.manifestKeys("u"); len(keys) != 1 || keys[0] != first[0] {
		t.Fatalf("manifests after a repeat of the same uid: %v", keys)
	}
	m, err := layout.DecodeManifest(must(os.ReadFile(filepath.Join(e.bucket, first[0]))))
	if err != nil || m.BackupUID != "uid-1" || m.Partitioner != layout.PartitionerMurmur3 {
		t.Fatalf("manifest uid %q partitioner %q: %v", m.BackupUID, m.Partitioner, err)
	}

	// The backup is committed: its topology is written.
	top := filepath.Join(e.bucket, filepath.FromSlash(layout.TopologyKey(e.node.ClusterName(), "u", e.node.SchemaVersion(), time.Now())))
	if err := os.MkdirAll(filepath.Dir(top), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(top, []byte(`{"clusterName":"`+e.node.ClusterName()+`","topology":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tiny := e.request(api.TypeBackup, "u")
	tiny.Entities = "ks2"
	for _, uid := range []string{"uid-2", ""} {
		o := e.submitUID(tiny, uid)
		if o.State != api.StateFailed || len(o.Errors) == 0 || !strings.Contains(o.Errors[0].Message, "already has a COMPLETED backup") {
			t.Errorf("a backup of uid %q of a committed tag: %+v", uid, o)
		}
	}
	if keys := e.manifestKeys("u"); len(keys) != 1 {
		t.Errorf("manifests of the committed tag after refused backups: %v", keys)
	}
	if o := e.submitUID(e.request(api.TypeBackup, "v"), "uid-2"); o.State != api.StateCompleted {
		t.Errorf("a backup of another tag: %+v", o)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
