package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// restoreSpec is a restore of the env's node into fresh directories.
func (e *env) restoreSpec(tag string) RestoreSpec {
	root := e.t.TempDir()
	return RestoreSpec{
		Request:        api.Request{Type: api.TypeRestore, StorageLocation: e.loc, SnapshotTag: tag, ConcurrentConnections: 3, DataDirs: []string{filepath.Join(root, "data")}},
		Cluster:        e.node.ClusterName(),
		Datacenter:     e.node.Datacenter(),
		HostID:         e.node.HostID(),
		CommitLogDir:   filepath.Join(root, "commitlog"),
		HintsDir:       filepath.Join(root, "hints"),
		SavedCachesDir: filepath.Join(root, "saved_caches"),
		TokensFile:     filepath.Join(root, "cassandra.yaml.d", "002-tokens.yaml"),
		MarkerFile:     filepath.Join(root, "data", "restore_done"),
	}
}

func TestBackupRestoreByteIdentical(t *testing.T) {
	for _, cfg := range []fakecassandra.Config{
		{DataDirs: []string{t.TempDir(), t.TempDir()}},
		{Version: "oa", Format: "bti", UUIDGenerations: true, NumTokens: 256},
	} {
		e := newEnv(t, cfg)
		e.populate()
		o := e.submit(e.request(api.TypeBackup, "full"))
		if o.State != api.StateCompleted {
			t.Fatalf("backup: %+v", o)
		}
		if e.node.SnapshotExists("full") {
			t.Error("snapshot not cleared")
		}
		want := liveFiles(t, e.node.DataDirs(), all)

		spec := e.restoreSpec("full")
		for _, d := range []string{spec.CommitLogDir, spec.HintsDir, spec.SavedCachesDir} {
			if err := os.MkdirAll(filepath.Join(d, "old"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		tr := &Tracker{}
		res, err := fileAgent().Restore(context.Background(), spec, tr)
		if err != nil {
			t.Fatal(err)
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
		if tr.Snapshot().BytesTransferred != o.BytesTotal {
			t.Errorf("restore moved %d bytes, backup had %d", tr.Snapshot().BytesTransferred, o.BytesTotal)
		}
		yaml, err := os.ReadFile(spec.TokensFile)
		if err != nil || string(yaml) != "auto_bootstrap: false\ninitial_token: "+strings.Join(e.node.Tokens(), ",")+"\n" {
			t.Errorf("tokens file %q, %v", yaml, err)
		}
		marker, err := os.ReadFile(spec.MarkerFile)
		if err != nil || strings.TrimSpace(string(marker)) != res.Key {
			t.Errorf("marker %q, %v", marker, err)
		}
		for _, d := range []string{spec.CommitLogDir, spec.HintsDir, spec.SavedCachesDir} {
			if left, _ := os.ReadDir(d); len(left) != 0 {
				t.Errorf("%s not wiped", d)
			}
		}
		filepath.WalkDir(spec.DataDirs[0], func(p string, d os.DirEntry, err error) error {
			if strings.Contains(d.Name(), ".restore-") {
				t.Errorf("temporary file left: %s", p)
			}
			return nil
		})
		// The schema and the manifest are in the bucket, in Esop's layout.
		tb, _ := e.node.Table("ks1", "t1")
		node := layout.Node{Cluster: e.node.ClusterName(), Datacenter: e.node.Datacenter(), HostID: e.node.HostID()}
		if _, err := os.Stat(filepath.Join(e.bucket, node.Key(layout.SchemaKey("ks1", tb.DirName())))); err != nil {
			t.Errorf("schema.cql: %v", err)
		}
		if ms, _ := filepath.Glob(filepath.Join(e.bucket, node.ManifestPrefix(), "full-"+e.node.SchemaVersion()+"-*.json")); len(ms) != 1 {
			t.Errorf("manifests: %v", ms)
		}
	}
}

func TestRestoreEntitiesAndNewCluster(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submit(e.request(api.TypeBackup, "t")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	tests := []struct {
		entities   string
		newCluster bool
		want       []string
	}{
		{"", false, []string{"ks1.t1", "ks1.t2", "ks2.t3", "system.local", "system.peers_v2", "system_schema.columns", "system_schema.keyspaces", "system_schema.tables"}},
		{"ks1", true, []string{"ks1.t1", "ks1.t2", "system_schema.columns", "system_schema.keyspaces", "system_schema.tables"}},
		{"ks1.t2,ks2", true, []string{"ks1.t2", "ks2.t3", "system_schema.columns", "system_schema.keyspaces", "system_schema.tables"}},
	}
	for _, tt := range tests {
		spec := e.restoreSpec("t")
		spec.Entities, spec.NewCluster = tt.entities, tt.newCluster
		if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
			t.Fatal(err)
		}
		tables, err := cassandra.Tables(spec.DataDirs)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tb := range tables {
			got = append(got, tb.Keyspace+"."+tb.Name)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("entities %q newCluster %v: restored %v, want %v", tt.entities, tt.newCluster, got, tt.want)
		}
	}
}

func TestDedup(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	first := e.submit(e.request(api.TypeBackup, "d1"))
	if first.State != api.StateCompleted || first.BytesTransferred != first.BytesTotal || first.BytesSkipped != 0 {
		t.Fatalf("first backup: %+v", first)
	}
	second := e.submit(e.request(api.TypeBackup, "d2"))
	if second.State != api.StateCompleted || second.BytesTransferred != 0 || second.BytesSkipped != first.BytesTotal || second.FilesTransferred != 0 || second.Progress != 1 {
		t.Fatalf("second backup of unchanged data: %+v", second.Transfer)
	}
	// Reused objects are not refreshed: the location declares no lifecycle expiry
	// (TestRefreshPolicy covers one that does).
	p, _, err := storage.OpenLocation(context.Background(), e.loc, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := e.node.Table("ks1", "t2")
	ss0, _ := e.node.SSTables("ks1", "t2")
	node := layout.Node{Cluster: e.node.ClusterName(), Datacenter: e.node.Datacenter(), HostID: e.node.HostID()}
	info, err := p.Head(context.Background(), node.Key(layout.SSTableKey("ks1", tb.DirName(), "", ss0[0].Generation, ss0[0].Digest, ss0[0].Name+"-Data.db")))
	if err != nil || info.Metadata[storage.MetaRefreshed] != "" {
		t.Errorf("reused object refreshed without a lifecycle expiry: %+v %v", info, err)
	}
	if err := e.node.WriteSSTable("ks2", "t3", 4321); err != nil {
		t.Fatal(err)
	}
	ss, _ := e.node.SSTables("ks2", "t3")
	var newest cassandra.SSTable
	for _, s := range ss {
		if s.Name == "nb-2-big" {
			newest = s
		}
	}
	third := e.submit(e.request(api.TypeBackup, "d3"))
	if third.State != api.StateCompleted || third.BytesTransferred != newest.Size() || third.FilesTransferred != len(newest.Files) {
		t.Fatalf("backup after one flush moved %d bytes in %d files, want %d in %d", third.BytesTransferred, third.FilesTransferred, newest.Size(), len(newest.Files))
	}
	// Every backup restores on its own, whatever it shares with the others.
	for _, tag := range []string{"d1", "d3"} {
		spec := e.restoreSpec(tag)
		if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
			t.Fatalf("restore %s: %v", tag, err)
		}
	}
}

func TestBackupFailureAfterSnapshotClearsIt(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	tb, _ := e.node.Table("ks1", "t2")
	e.node.SetHook(func(req jolokia.Request) error {
		if strings.HasPrefix(req.Operation, "takeSnapshot") {
			// An SSTable without Data.db makes the snapshot unreadable.
			return os.WriteFile(filepath.Join(tb.Dirs[0], "nb-99-big-Index.db"), []byte("x"), 0o644)
		}
		return nil
	})
	o := e.submit(e.request(api.TypeBackup, "broken"))
	if o.State != api.StateFailed || !strings.Contains(o.Errors[0].Message, "no Data.db") {
		t.Fatalf("backup: %+v", o)
	}
	if e.node.SnapshotExists("broken") {
		t.Error("snapshot left after a failure")
	}
	if e.node.Calls("clearSnapshot") != 2 {
		t.Errorf("clearSnapshot called %d times, want 2 (leftover check, cleanup)", e.node.Calls("clearSnapshot"))
	}
}

func TestRestoreCorruptObject(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submit(e.request(api.TypeBackup, "c")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	tb, _ := e.node.Table("ks1", "t2")
	objs, _ := filepath.Glob(filepath.Join(e.bucket, "*", "*", "*", "data", "ks1", tb.DirName(), "*", "nb-1-big-Data.db"))
	if len(objs) != 1 {
		t.Fatalf("objects: %v", objs)
	}
	b, _ := os.ReadFile(objs[0])
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(objs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := e.restoreSpec("c")
	_, err := fileAgent().Restore(context.Background(), spec, &Tracker{})
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "nb-1-big-Data.db") {
		t.Fatalf("restore of a corrupt object: %v", err)
	}
	final := filepath.Join(spec.DataDirs[0], "ks1", tb.DirName(), "nb-1-big-Data.db")
	if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("corrupt file under its final name: %v", err)
	}
	if _, err := os.Stat(spec.MarkerFile); !errors.Is(err, os.ErrNotExist) {
		t.Error("marker written by a failed restore")
	}
	filepath.WalkDir(spec.DataDirs[0], func(p string, d os.DirEntry, err error) error {
		if strings.HasPrefix(d.Name(), ".restore-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestRestoreRefusesPathTraversal(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submit(e.request(api.TypeBackup, "p")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	ms, _ := filepath.Glob(filepath.Join(e.bucket, "*", "*", "*", "manifests", "p-*.json"))
	data, _ := os.ReadFile(ms[0])
	var m layout.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	tb, _ := e.node.Table("ks1", "t2")
	evil := "data/ks1/" + tb.DirName() + "/../../../../../../tmp/evil/nb-1-big-Data.db"
	m.Add("ks1", "t2", tb.ID, "nb-1-big", layout.Entry{ObjectKey: evil, Type: layout.TypeFile, Size: 1, Hash: strings.Repeat("0", 64)})
	data, _ = json.Marshal(m)
	if err := os.WriteFile(ms[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := e.restoreSpec("p")
	_, err := fileAgent().Restore(context.Background(), spec, &Tracker{})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("restore of a traversing manifest: %v", err)
	}
	if entries, _ := os.ReadDir(spec.DataDirs[0]); len(entries) != 0 {
		t.Errorf("restore wrote %d entries before refusing", len(entries))
	}
}

func TestRestoreMarkerAndResume(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	backup := e.submit(e.request(api.TypeBackup, "m"))
	if backup.State != api.StateCompleted {
		t.Fatalf("backup: %+v", backup)
	}
	spec := e.restoreSpec("m")
	a := fileAgent()
	if _, err := a.Restore(context.Background(), spec, &Tracker{}); err != nil {
		t.Fatal(err)
	}
	files := liveFiles(t, spec.DataDirs, all)
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	// A restarted init container finds the marker and downloads nothing, even with the
	// backup's objects gone from the bucket.
	if err := os.Rename(e.bucket, e.bucket+".moved"); err != nil {
		t.Fatal(err)
	}
	tr := &Tracker{}
	res, err := a.Restore(context.Background(), spec, tr)
	if err != nil || !res.AlreadyDone || tr.Snapshot().BytesTransferred != 0 || tr.Snapshot().FilesTotal != 0 {
		t.Fatalf("restore with marker: %+v %+v %v", res, tr.Snapshot(), err)
	}

	if err := os.Rename(e.bucket+".moved", e.bucket); err != nil {
		t.Fatal(err)
	}
	// Another snapshot tag is another restore.
	other := spec
	other.SnapshotTag = "other"
	if _, err := a.Restore(context.Background(), other, &Tracker{}); err == nil || !strings.Contains(err.Error(), "no manifest") {
		t.Errorf("restore of another tag with the marker present: %v", err)
	}

	// A killed restore (only the start marker, one file missing, one truncated, one
	// stray) resumes.
	if err := os.Rename(spec.MarkerFile, startedFile(spec)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(spec.DataDirs[0], paths[0]))
	if err := os.Truncate(filepath.Join(spec.DataDirs[0], paths[1]), 3); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(spec.DataDirs[0], filepath.Dir(paths[2]), "nb-77-big-Data.db")
	if err := os.WriteFile(stray, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr = &Tracker{}
	if _, err := a.Restore(context.Background(), spec, tr); err != nil {
		t.Fatal(err)
	}
	s := tr.Snapshot()
	if s.FilesTransferred != 2 || s.FilesSkipped != len(paths)-2 || s.BytesTransferred != int64(len(files[paths[0]])+len(files[paths[1]])) {
		t.Errorf("resume: %+v", s)
	}
	got := liveFiles(t, spec.DataDirs, all)
	if len(got) != len(files) {
		t.Errorf("after resume %d files, want %d", len(got), len(files))
	}
	for p, b := range files {
		if !bytes.Equal(got[p], b) {
			t.Errorf("%s differs after resume", p)
		}
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Error("stray SSTable kept")
	}
}

func TestRestoreLiveImport(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	before := liveFiles(t, e.node.DataDirs(), func(ks, table string) bool { return ks == "ks1" && table == "t2" })
	if o := e.submit(e.request(api.TypeBackup, "live")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	req := e.request(api.TypeRestore, "live")
	req.Entities = "ks1.t2"
	req.RestorationStrategyType = "IMPORT"
	o := e.submit(req)
	if o.State != api.StateCompleted || o.Progress != 1 {
		t.Fatalf("restore: %+v", o)
	}
	if e.node.Calls("importNewSSTables") != 1 {
		t.Errorf("importNewSSTables called %d times", e.node.Calls("importNewSSTables"))
	}
	after, err := e.node.SSTables("ks1", "t2")
	if err != nil || len(after) != 2 {
		t.Fatalf("ks1.t2 after import: %v %v", after, err)
	}
	var orig []byte
	for p, b := range before {
		if strings.HasSuffix(p, "-Data.db") {
			orig = b
		}
	}
	imported, _ := os.ReadFile(filepath.Join(after[1].Dir, after[1].Name+"-Data.db"))
	if !bytes.Equal(imported, orig) {
		t.Error("imported Data.db differs from the backed-up one")
	}
	tb, _ := e.node.Table("ks1", "t2")
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(tb.Dirs[0])), StagingDir)); err == nil {
		if left, _ := os.ReadDir(filepath.Join(filepath.Dir(filepath.Dir(tb.Dirs[0])), StagingDir)); len(left) != 0 {
			t.Error("staging directory left")
		}
	}
}

func TestRestoreResolvesHostFromTopology(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submit(e.request(api.TypeBackup, "topo")); o.State != api.StateCompleted {
		t.Fatalf("backup: %+v", o)
	}
	for i, id := range []string{"11111111-1111-4111-8111-111111111111", e.node.HostID()} {
		top := layout.Topology{Timestamp: int64(i + 1), ClusterName: e.node.ClusterName(), SchemaVersion: e.node.SchemaVersion(), Topology: []layout.Host{
			{Hostname: "cassandra-dc1-rack1-0", Cluster: e.node.ClusterName(), DC: e.node.Datacenter(), Rack: "rack1", NodeID: id, IPAddress: "10.0.0.1"},
		}}
		data, _ := json.Marshal(top)
		key := layout.TopologyKey(e.node.ClusterName(), "topo", e.node.SchemaVersion(), time.UnixMilli(int64(1000+i)))
		if err := os.MkdirAll(filepath.Join(e.bucket, "topology"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.bucket, key), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := e.restoreSpec("topo")
	spec.HostID, spec.Datacenter, spec.Hostname = "", "", "cassandra-dc1-rack1-0"
	if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
		t.Fatal(err)
	}
	if got, want := len(liveFiles(t, spec.DataDirs, all)), len(liveFiles(t, e.node.DataDirs(), all)); got != want {
		t.Errorf("restored %d files, want %d", got, want)
	}
	spec = e.restoreSpec("topo")
	spec.HostID, spec.Hostname = "", "cassandra-dc1-rack2-0"
	if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err == nil || !strings.Contains(err.Error(), "not in topology") {
		t.Errorf("unknown host: %v", err)
	}
}

// rewrite replaces a live SSTable file the way Cassandra rewrites a component in place: a
// new file renamed over the old one (the snapshot's hard link keeps the old content).
func rewrite(t *testing.T, path string, change func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", change(b), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// Cassandra rewrites Statistics.db (repair, level changes) and Summary.db (index summary
// resampling) of a live SSTable under the same generation. The next backup stores the new
// content under a revision key, leaves the objects older backups reference alone, and
// every backup restores to exactly what it snapshotted.
func TestRewrittenComponents(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	if o := e.submit(e.request(api.TypeBackup, "r1")); o.State != api.StateCompleted {
		t.Fatalf("first backup: %+v", o)
	}
	want1 := liveFiles(t, e.node.DataDirs(), all)

	tb, _ := e.node.Table("ks1", "t1")
	ss, _ := e.node.SSTables("ks1", "t1")
	stats := filepath.Join(tb.Dirs[0], ss[0].Name+"-Statistics.db")
	summary := filepath.Join(tb.Dirs[0], ss[0].Name+"-Summary.db")
	rewrite(t, stats, func(b []byte) []byte { // same size: repairedAt set
		b = bytes.Clone(b)
		b[0] ^= 0xff
		return b
	})
	rewrite(t, summary, func(b []byte) []byte { return append(bytes.Clone(b), 1, 2, 3) })
	want2 := liveFiles(t, e.node.DataDirs(), all)
	newStats, _ := os.ReadFile(stats)
	newSummary, _ := os.ReadFile(summary)

	o2 := e.submit(e.request(api.TypeBackup, "r2"))
	if o2.State != api.StateCompleted || o2.FilesTransferred != 2 || o2.BytesTransferred != int64(len(newStats)+len(newSummary)) {
		t.Fatalf("backup after two rewrites moved %d files, %d bytes; want 2, %d", o2.FilesTransferred, o2.BytesTransferred, len(newStats)+len(newSummary))
	}
	// The objects the first backup references still hold what it backed up.
	node := layout.Node{Cluster: e.node.ClusterName(), Datacenter: e.node.Datacenter(), HostID: e.node.HostID()}
	for _, name := range []string{"Statistics.db", "Summary.db"} {
		key := layout.SSTableKey("ks1", tb.DirName(), "", ss[0].Generation, ss[0].Digest, ss[0].Name+"-"+name)
		got, err := os.ReadFile(filepath.Join(e.bucket, node.Key(key)))
		rel, _ := filepath.Rel(e.node.DataDirs()[0], filepath.Join(tb.Dirs[0], ss[0].Name+"-"+name))
		if err != nil || !bytes.Equal(got, want1[rel]) {
			t.Errorf("object %s changed under the first backup (%v)", key, err)
		}
	}

	// Unchanged since r2: nothing to upload, and the revisions are reused.
	if o := e.submit(e.request(api.TypeBackup, "r3")); o.State != api.StateCompleted || o.FilesTransferred != 0 {
		t.Fatalf("backup of unchanged data after the rewrites: %+v", o.Transfer)
	}

	// With no manifest to compare with, a component other than Data.db is not taken for
	// the object under its key: it goes under its revision key, once.
	manifests, _ := filepath.Glob(filepath.Join(e.bucket, node.ManifestPrefix(), "*.json"))
	for _, m := range manifests {
		if err := os.Rename(m, m+".hidden"); err != nil {
			t.Fatal(err)
		}
	}
	var other int
	for _, s := range liveNames(t, e) {
		if !strings.HasSuffix(s, "-Data.db") {
			other++
		}
	}
	o4 := e.submit(e.request(api.TypeBackup, "r4"))
	if o4.State != api.StateCompleted || o4.FilesTransferred != other-2 {
		t.Fatalf("backup with no manifest moved %d files; want %d (every component but Data.db, less the 2 revisions stored)", o4.FilesTransferred, other-2)
	}
	if o := e.submit(e.request(api.TypeBackup, "r5")); o.State != api.StateCompleted || o.FilesTransferred != 0 {
		t.Fatalf("backup after r4: %+v", o.Transfer)
	}
	for _, m := range manifests {
		os.Rename(m+".hidden", m)
	}

	for tag, want := range map[string]map[string][]byte{"r1": want1, "r2": want2, "r3": want2, "r4": want2, "r5": want2} {
		spec := e.restoreSpec(tag)
		if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
			t.Fatalf("restore %s: %v", tag, err)
		}
		got := liveFiles(t, spec.DataDirs, all)
		if len(got) != len(want) {
			t.Errorf("restore %s: %d files, want %d", tag, len(got), len(want))
		}
		for p, b := range want {
			if !bytes.Equal(got[p], b) {
				t.Errorf("restore %s: %s differs from its snapshot", tag, p)
			}
		}
	}
}

// liveNames returns the names of the node's live SSTable files.
func liveNames(t *testing.T, e *env) []string {
	t.Helper()
	var names []string
	for p := range liveFiles(t, e.node.DataDirs(), all) {
		names = append(names, filepath.Base(p))
	}
	return names
}
