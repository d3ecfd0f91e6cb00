package fakecassandra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
)

func TestNodeIdentity(t *testing.T) {
	ctx := context.Background()
	for _, numTokens := range []int{16, 256} {
		n := New(t, Config{NumTokens: numTokens, Seed: 7, ClusterName: "c1", Datacenter: "dc2", Rack: "r3"})
		c := n.Client()
		tokens, err := c.Tokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(tokens) != numTokens || !reflect.DeepEqual(tokens, n.Tokens()) {
			t.Fatalf("tokens: got %d %v, want %d", len(tokens), tokens, numTokens)
		}
		for i := 1; i < len(tokens); i++ {
			a, _ := strconv.ParseInt(tokens[i-1], 10, 64)
			b, _ := strconv.ParseInt(tokens[i], 10, 64)
			if a >= b {
				t.Fatalf("tokens not sorted: %s >= %s", tokens[i-1], tokens[i])
			}
		}
		host, err := c.HostID(ctx)
		if err != nil || host != n.HostID() || len(host) != 36 {
			t.Fatalf("host id %q, %v", host, err)
		}
		sv, err := c.SchemaVersion(ctx)
		if err != nil || sv != n.SchemaVersion() {
			t.Fatalf("schema version %q, %v", sv, err)
		}
		cluster, err := c.ClusterName(ctx)
		if err != nil || cluster != "c1" {
			t.Fatalf("cluster %q, %v", cluster, err)
		}
		dc, rack, err := c.Location(ctx)
		if err != nil || dc != "dc2" || rack != "r3" {
			t.Fatalf("location %q %q, %v", dc, rack, err)
		}
		mode, err := c.OperationMode(ctx)
		if err != nil || mode != "NORMAL" {
			t.Fatalf("mode %q, %v", mode, err)
		}
		kss, err := c.Keyspaces(ctx)
		if err != nil || !reflect.DeepEqual(kss, []string{"system", "system_schema"}) {
			t.Fatalf("keyspaces %v, %v", kss, err)
		}
		dirs, err := c.DataDirs(ctx)
		if err != nil || !reflect.DeepEqual(dirs, n.DataDirs()) {
			t.Fatalf("data dirs %v, %v", dirs, err)
		}
	}
	a := New(t, Config{Seed: 1})
	b := New(t, Config{Seed: 1})
	c := New(t, Config{Seed: 2})
	if a.HostID() != b.HostID() || !reflect.DeepEqual(a.Tokens(), b.Tokens()) {
		t.Error("same seed, different identity")
	}
	if a.HostID() == c.HostID() || reflect.DeepEqual(a.Tokens(), c.Tokens()) {
		t.Error("different seeds, same identity")
	}
	fixed := New(t, Config{Tokens: []string{"-5", "7"}, HostID: "00000000-0000-4000-8000-000000000001"})
	if !reflect.DeepEqual(fixed.Tokens(), []string{"-5", "7"}) || fixed.HostID() != "00000000-0000-4000-8000-000000000001" {
		t.Error("configured tokens or host id ignored")
	}
}

func TestSchemaVersionChangesWithSchema(t *testing.T) {
	n := New(t, Config{})
	before := n.SchemaVersion()
	if _, err := n.CreateTable("ks", "t"); err != nil {
		t.Fatal(err)
	}
	after := n.SchemaVersion()
	if before == after {
		t.Error("schema version unchanged after CREATE TABLE")
	}
	if _, err := n.CreateTable("ks", "t"); err != nil || n.SchemaVersion() != after {
		t.Error("creating an existing table changed the schema")
	}
}

// checkSSTables checks that every SSTable of the table has a full component set and a
// Digest.crc32 that matches its Data.db, and returns their names.
func checkSSTables(t *testing.T, n *Node, ks, table string) []string {
	t.Helper()
	ss, err := n.SSTables(ks, table)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ss {
		names = append(names, s.Index+s.Name)
		sum, err := cassandra.FileCRC32(filepath.Join(s.Dir, s.Name+"-Data.db"))
		if err != nil {
			t.Fatal(err)
		}
		if strconv.FormatUint(uint64(sum), 10) != s.Digest {
			t.Errorf("%s: Digest.crc32 %s, Data.db crc32 %d", s.Name, s.Digest, sum)
		}
		toc, err := os.ReadFile(filepath.Join(s.Dir, s.Name+"-TOC.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(strings.Fields(string(toc))); got != len(s.Files) {
			t.Errorf("%s: TOC lists %d components, %d files exist", s.Name, got, len(s.Files))
		}
	}
	sort.Strings(names)
	return names
}

func TestFlushCreatesGenerations(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cfg  Config
		want func(names []string) error
	}{
		{name: "nb big", cfg: Config{}, want: exact("nb-1-big", "nb-2-big")},
		{name: "oa bti", cfg: Config{Version: "oa", Format: "bti"}, want: exact("oa-1-bti", "oa-2-bti")},
		{name: "uuid generations", cfg: Config{UUIDGenerations: true}, want: func(names []string) error {
			if len(names) != 2 {
				return errors.New("want 2 sstables")
			}
			for _, nm := range names {
				d, err := cassandra.ParseDescriptor(nm + "-Data.db")
				if err != nil {
					return err
				}
				if !d.UUIDGeneration() {
					return errors.New(nm + " has no uuid generation")
				}
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := New(t, tt.cfg)
			c := n.Client()
			if err := n.Write("ks", "t", 1000); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(ctx, "ks"); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(ctx, "ks", "t"); err != nil { // empty memtable: no new sstable
				t.Fatal(err)
			}
			if err := n.Write("ks", "t", 70000); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(ctx, "ks", "t"); err != nil {
				t.Fatal(err)
			}
			if err := tt.want(checkSSTables(t, n, "ks", "t")); err != nil {
				t.Error(err)
			}
			var je *jolokia.Error
			if err := c.Flush(ctx, "nope"); !errors.As(err, &je) || !strings.Contains(je.Message, "nope") {
				t.Errorf("flush of unknown keyspace: %v", err)
			}
		})
	}
}

func exact(want ...string) func([]string) error {
	return func(names []string) error {
		if !reflect.DeepEqual(names, want) {
			return errors.New("got " + strings.Join(names, ",") + ", want " + strings.Join(want, ","))
		}
		return nil
	}
}

func TestDeterministicData(t *testing.T) {
	read := func(seed uint64) []byte {
		n := New(t, Config{Seed: seed})
		if err := n.WriteSSTable("ks", "t", 5000); err != nil {
			t.Fatal(err)
		}
		tb, _ := n.Table("ks", "t")
		ss, err := n.SSTables("ks", "t")
		if err != nil || len(ss) != 1 {
			t.Fatalf("sstables %v, %v", ss, err)
		}
		b, err := os.ReadFile(filepath.Join(ss[0].Dir, "nb-1-big-Data.db"))
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte(tb.ID), b...)
	}
	a, b, c := read(3), read(3), read(4)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different bytes")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same bytes")
	}
	if len(Bytes(1, 13)) != 13 || !bytes.Equal(Bytes(1, 13), Bytes(1, 20)[:13]) {
		t.Error("Bytes is not a prefix-stable stream")
	}
}

func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	dirs := []string{t.TempDir(), t.TempDir()}
	n := New(t, Config{DataDirs: dirs})
	c := n.Client()
	for i := 0; i < 3; i++ {
		if err := n.WriteSSTable("ks1", "t1", 2000+i); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.CreateIndex("ks1", "t1", "t1_value_idx"); err != nil {
		t.Fatal(err)
	}
	if err := n.Write("ks1", "t1", 4000); err != nil { // memtable: flushed by the snapshot
		t.Fatal(err)
	}
	if err := n.WriteSSTable("ks1", "t2", 100); err != nil {
		t.Fatal(err)
	}
	if err := n.WriteSSTable("ks2", "t3", 100); err != nil {
		t.Fatal(err)
	}

	if err := c.TakeSnapshot(ctx, "s1", cassandra.Entity{Keyspace: "ks1", Table: "t1"}, cassandra.Entity{Keyspace: "ks2"}); err != nil {
		t.Fatal(err)
	}
	snaps, err := cassandra.Snapshot(dirs, "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, s := range snaps {
		var names []string
		for _, ss := range s.SSTables {
			names = append(names, ss.Index+ss.Name)
			for _, f := range ss.Files {
				live := filepath.Join(s.Table.Dirs[0], ss.Index, f.Name)
				if _, err := os.Stat(live); err != nil {
					live = filepath.Join(s.Table.Dirs[1], ss.Index, f.Name)
				}
				a, err1 := os.Stat(live)
				b, err2 := os.Stat(f.Path)
				if err1 != nil || err2 != nil || !os.SameFile(a, b) {
					t.Errorf("%s is not a hard link of %s", f.Path, live)
				}
			}
		}
		got[s.Table.Keyspace+"."+s.Table.Name] = names
		if !strings.Contains(s.Schema, "CREATE TABLE IF NOT EXISTS "+s.Table.Keyspace+"."+s.Table.Name) {
			t.Errorf("schema.cql of %s: %q", s.Table.Name, s.Schema)
		}
		if len(s.Dirs) != 2 {
			t.Errorf("%s: snapshot in %d data dirs, want 2", s.Table.Name, len(s.Dirs))
		}
	}
	want := map[string][]string{
		"ks1.t1": {"nb-1-big", "nb-2-big", "nb-3-big", "nb-4-big", ".t1_value_idxnb-4-big"},
		"ks2.t3": {"nb-1-big"},
	}
	for k := range want {
		sort.Strings(want[k])
		sort.Strings(got[k])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("snapshot = %v\nwant %v", got, want)
	}
	t1, _ := n.Table("ks1", "t1")
	var manifest struct {
		Files []string `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(t1.Dirs[0], "snapshots", "s1", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	var nfiles int
	for _, s := range snaps {
		if s.Table.Name == "t1" {
			for _, ss := range s.SSTables {
				nfiles += len(ss.Files)
			}
		}
	}
	if len(manifest.Files) != nfiles {
		t.Errorf("manifest.json lists %d files, snapshot has %d", len(manifest.Files), nfiles)
	}

	var je *jolokia.Error
	if err := c.TakeSnapshot(ctx, "s1", cassandra.Entity{Keyspace: "ks2"}); !errors.As(err, &je) || je.Status != 500 || !strings.Contains(je.Message, "already exists") {
		t.Errorf("second snapshot s1: %v", err)
	}
	if err := c.TakeSnapshot(ctx, "s2", cassandra.Entity{Keyspace: "nope"}); !errors.As(err, &je) || !strings.Contains(je.Message, "nope") {
		t.Errorf("snapshot of unknown keyspace: %v", err)
	}
	if err := c.TakeSnapshot(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	all, err := cassandra.Snapshot(dirs, "all", nil)
	if err != nil || len(all) != 8 { // 5 system tables and 3 user tables
		t.Errorf("snapshot of everything: %d tables, %v", len(all), err)
	}

	if err := c.ClearSnapshot(ctx, "s1", "ks1"); err != nil {
		t.Fatal(err)
	}
	left, _ := cassandra.Snapshot(dirs, "s1", nil)
	if len(left) != 1 || left[0].Table.Keyspace != "ks2" {
		t.Errorf("after clearing s1 of ks1: %v", left)
	}
	if err := c.ClearSnapshot(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if n.SnapshotExists("s1") || !n.SnapshotExists("all") {
		t.Error("clearSnapshot removed the wrong snapshots")
	}
	if err := c.ClearSnapshot(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if n.SnapshotExists("all") {
		t.Error("clearing the empty tag leaves snapshots")
	}
	if got := checkSSTables(t, n, "ks1", "t1"); len(got) != 5 {
		t.Errorf("live sstables after clearing snapshots: %v", got)
	}
}

func TestImportSSTables(t *testing.T) {
	ctx := context.Background()
	src := New(t, Config{Seed: 1})
	if err := src.WriteSSTable("ks", "t", 3000); err != nil {
		t.Fatal(err)
	}
	if err := src.WriteSSTable("ks", "t", 3000); err != nil {
		t.Fatal(err)
	}
	dst := New(t, Config{Seed: 2})
	if err := dst.WriteSSTable("ks", "t", 100); err != nil {
		t.Fatal(err)
	}
	good, bad := t.TempDir(), t.TempDir()
	ss, _ := src.SSTables("ks", "t")
	for i, s := range ss {
		to := good
		if i == 1 {
			to = bad
		}
		for _, f := range s.Files {
			b, _ := os.ReadFile(f.Path)
			if to == bad && strings.HasSuffix(f.Name, "Data.db") {
				b[0] ^= 0xff
			}
			if err := os.WriteFile(filepath.Join(to, f.Name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	failed, err := dst.Client().ImportSSTables(ctx, "ks", "t", []string{good, bad})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(failed, []string{bad}) {
		t.Errorf("failed = %v, want [%s]", failed, bad)
	}
	if got := checkSSTables(t, dst, "ks", "t"); !reflect.DeepEqual(got, []string{"nb-1-big", "nb-2-big"}) {
		t.Errorf("after import: %v", got)
	}
	if left, _ := os.ReadDir(good); len(left) != 0 {
		t.Errorf("import left %d files in the source directory", len(left))
	}
	var je *jolokia.Error
	if _, err := dst.Client().ImportSSTables(ctx, "ks", "nope", []string{good}); !errors.As(err, &je) || je.Status != 404 {
		t.Errorf("import into unknown table: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	n, err := Start(Config{DataDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WriteSSTable("ks", "t", 100); err != nil {
		t.Fatal(err)
	}
	if err := n.CreateIndex("ks", "t", "idx"); err != nil {
		t.Fatal(err)
	}
	sv := n.SchemaVersion()
	n.Close()
	m := New(t, Config{DataDirs: []string{dir}})
	if m.SchemaVersion() != sv {
		t.Error("schema version changed across a restart")
	}
	if err := m.WriteSSTable("ks", "t", 100); err != nil {
		t.Fatal(err)
	}
	if got := checkSSTables(t, m, "ks", "t"); !reflect.DeepEqual(got, []string{".idxnb-2-big", "nb-1-big", "nb-2-big"}) {
		t.Errorf("after restart: %v", got)
	}
}

func TestJolokiaProtocol(t *testing.T) {
	n := New(t, Config{})
	post := func(body string) string {
		resp, err := http.Post(n.URL(), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	tests := []struct {
		name, body string
		want       []string
	}{
		{"overloaded without signature", `{"type":"exec","mbean":"org.apache.cassandra.db:type=StorageService","operation":"takeSnapshot","arguments":["x",{},[]]}`, []string{`"status":400`, "overloaded"}},
		{"unknown mbean", `{"type":"read","mbean":"org.apache.cassandra.db:type=Nope","attribute":"X"}`, []string{`"status":404`, "InstanceNotFoundException"}},
		{"unknown attribute", `{"type":"read","mbean":"org.apache.cassandra.db:type=StorageService","attribute":"Nope"}`, []string{`"status":404`, "AttributeNotFoundException"}},
		{"wrong argument count", `{"type":"exec","mbean":"org.apache.cassandra.db:type=StorageService","operation":"clearSnapshot(java.lang.String,[Ljava.lang.String;)","arguments":["x"]}`, []string{`"status":400`, "requires 2 parameters"}},
		{"bulk", `[{"type":"read","mbean":"org.apache.cassandra.db:type=StorageService","attribute":"OperationMode"},{"type":"version"}]`, []string{`"value":"NORMAL"`, `"protocol":"7.2"`}},
		{"string array argument", `{"type":"exec","mbean":"org.apache.cassandra.db:type=StorageService","operation":"forceKeyspaceFlush","arguments":["system","local,peers_v2"]}`, []string{`"status":200`}},
	}
	for _, tt := range tests {
		got := post(tt.body)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %s lacks %s", tt.name, got, w)
			}
		}
	}
}

func TestHook(t *testing.T) {
	ctx := context.Background()
	n := New(t, Config{})
	n.SetHook(func(req jolokia.Request) error {
		if strings.HasPrefix(req.Operation, "takeSnapshot") {
			return errors.New("disk full")
		}
		return nil
	})
	var je *jolokia.Error
	if err := n.Client().TakeSnapshot(ctx, "x"); !errors.As(err, &je) || !strings.Contains(je.Message, "disk full") {
		t.Errorf("hooked snapshot: %v", err)
	}
	if n.SnapshotExists("x") {
		t.Error("failed snapshot left files")
	}
	if _, err := n.Client().Tokens(ctx); err != nil {
		t.Error(err)
	}
	if n.Calls("Tokens") != 1 || n.Calls("takeSnapshot") != 0 {
		t.Errorf("calls: Tokens %d, takeSnapshot %d", n.Calls("Tokens"), n.Calls("takeSnapshot"))
	}
}
