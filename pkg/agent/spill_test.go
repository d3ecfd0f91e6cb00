package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestSpillBoundsMemory checks that a spill holds no more than spillRunBytes of records
// in memory, writing the rest to sorted runs on disk, and gives every record back once,
// in order, whether it ends in memory or on disk.
func TestSpillBoundsMemory(t *testing.T) {
	defer func(n int) { spillRunBytes = n }(spillRunBytes)
	spillRunBytes = 4 << 10
	dir := t.TempDir()
	s := newSpill(dir)
	defer s.Close()
	const n = 10_000
	want := map[string]int{}
	for i := range n {
		rec := record(fmt.Sprintf("data/ks/t/%08d", rand.IntN(n)), sizeDesc(int64(i)))
		want[string(rec)]++
		if err := s.Add(rec); err != nil {
			t.Fatal(err)
		}
		if s.size > spillRunBytes {
			t.Fatalf("after %d records: %d bytes in memory, limit %d", i+1, s.size, spillRunBytes)
		}
	}
	if runs, _ := os.ReadDir(dir); len(runs) < n*20/spillRunBytes {
		t.Fatalf("%d runs on disk for %d records", len(runs), n)
	}
	var prev []byte
	got := 0
	err := s.Each(func(rec []byte) error {
		if prev != nil && bytes.Compare(prev, rec) > 0 {
			return fmt.Errorf("%q after %q", rec, prev)
		}
		prev = bytes.Clone(rec)
		if want[string(rec)] == 0 {
			return fmt.Errorf("record %q given back too often", rec)
		}
		want[string(rec)]--
		got++
		return nil
	})
	if err != nil || got != n {
		t.Fatalf("gave back %d records of %d: %v", got, n, err)
	}
	s.Close()
	if runs, _ := os.ReadDir(dir); len(runs) != 0 {
		t.Errorf("%d runs left after Close", len(runs))
	}
	// A spill that never reached the limit sorts in memory.
	small := newSpill(dir)
	for _, r := range []string{"b", "c", "a"} {
		small.Add([]byte(r))
	}
	var order string
	small.Each(func(rec []byte) error { order += string(rec); return nil })
	if order != "abc" {
		t.Errorf("in-memory order %q", order)
	}
}

// TestRecordFields checks that fields splits what record joins, the last field whole.
func TestRecordFields(t *testing.T) {
	f := fields(record("a", "", "c\x00d"), 3)
	if f[0] != "a" || f[1] != "" || f[2] != "c\x00d" {
		t.Errorf("fields = %q", f)
	}
	if f := fields(record("a"), 3); f[0] != "a" || f[1] != "" || f[2] != "" {
		t.Errorf("missing fields = %q", f)
	}
}

// TestBackupRestoreSpilled runs the backup and restore tests with lists that spill to
// disk after a few records, so that the joins and sorts merge many runs: what a node of a
// million files does.
func TestBackupRestoreSpilled(t *testing.T) {
	defer func(n int) { spillRunBytes = n }(spillRunBytes)
	spillRunBytes = 512
	for name, test := range map[string]func(*testing.T){
		"ByteIdentical": TestBackupRestoreByteIdentical, "Dedup": TestDedup, "RewrittenComponents": TestRewrittenComponents,
		"Entities": TestRestoreEntitiesAndNewCluster, "MarkerAndResume": TestRestoreMarkerAndResume, "LiveImport": TestRestoreLiveImport,
	} {
		t.Run(name, test)
	}
}

// TestRestoreOfEarlierManifest checks that a manifest written the way earlier versions
// wrote it (json.Marshal of a layout.Manifest: each table's entries before its id)
// restores, byte-identical, and that the streaming writer's manifest decodes with
// DecodeManifest, the reader earlier versions restore with.
func TestRestoreOfEarlierManifest(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submit(e.request(api.TypeBackup, "p")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	want := liveFiles(t, e.node.DataDirs(), all)
	ms, _ := filepath.Glob(filepath.Join(e.bucket, "*", "*", "*", "manifests", "p-*.json"))
	if len(ms) != 1 {
		t.Fatalf("manifests %v", ms)
	}
	data, _ := os.ReadFile(ms[0])
	m, err := layout.DecodeManifest(data)
	if err != nil {
		t.Fatalf("the streamed manifest does not decode: %v", err)
	}
	if len(m.Files()) != len(want) {
		t.Fatalf("manifest holds %d files, the node %d", len(m.Files()), len(want))
	}
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ms[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := e.restoreSpec("p")
	// A killed restore's file lists are removed; the new one's are gone when it ends.
	left := filepath.Join(spec.DataDirs[0], spillPrefix+"1", "run-1")
	if err := os.MkdirAll(filepath.Dir(left), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(left, []byte("x"), 0o644)
	if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
		t.Fatal(err)
	}
	if spills, _ := filepath.Glob(filepath.Join(spec.DataDirs[0], spillPrefix+"*")); len(spills) != 0 {
		t.Errorf("file lists left: %v", spills)
	}
	got := liveFiles(t, spec.DataDirs, all)
	if len(got) != len(want) {
		t.Errorf("restored %d files, backed up %d", len(got), len(want))
	}
	for p, b := range want {
		if !bytes.Equal(got[p], b) {
			t.Errorf("%s differs after restore", p)
		}
	}
}
