package agent

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestBackupWaitsForCollectorLock: a backup writes its marker, then waits while an
// unexpired collector lock holds its node, and lists or uploads nothing until the lock is
// gone; its marker is removed once the manifest is written. An expired lock (a dead
// operator's) does not hold it.
func TestBackupWaitsForCollectorLock(t *testing.T) {
	defer func(d time.Duration) { lockPoll = d }(lockPoll)
	lockPoll = 20 * time.Millisecond
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	p, _, err := storage.OpenLocation(t.Context(), e.loc, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	node := layout.Node{Cluster: e.node.ClusterName(), Datacenter: e.node.Datacenter(), HostID: e.node.HostID()}
	lock := func(key string, expires time.Time) {
		data, _ := json.Marshal(layout.InFlight{UID: "lock", Started: time.Now(), Expires: expires})
		if _, err := p.Put(t.Context(), key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(prefix string) []string {
		k, err := storage.Keys(t.Context(), p, prefix)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	lock(node.LockKey("expired"), time.Now().Add(-time.Minute))
	lock(node.LockKey("held"), time.Now().Add(time.Hour))

	req := e.request("backup", "locked")
	req.BackupUID = "0a1b2c3d-0000-4000-8000-000000000001"
	done := make(chan error, 1)
	go func() { done <- e.agent.Backup(t.Context(), req, &Tracker{}) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(keys(node.MarkerKey(req.BackupUID))) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no in-flight marker written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(10 * lockPoll) // several looks at the lock
	select {
	case err := <-done:
		t.Fatalf("the backup ran while a collector held its node: %v", err)
	default:
	}
	if k := keys(node.Key(layout.DataDir + "/")); len(k) != 0 {
		t.Fatalf("uploaded while a collector held the node: %v", k)
	}
	if err := p.Delete(t.Context(), node.LockKey("held")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(keys(node.ManifestPrefix())) != 1 || len(keys(node.Key(layout.DataDir+"/"))) == 0 {
		t.Fatal("the backup did not complete once the lock was gone")
	}
	if k := keys(node.MarkerKey(req.BackupUID)); len(k) != 0 {
		t.Errorf("marker left after the manifest: %v", k)
	}
}
