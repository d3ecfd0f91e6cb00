package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/klog/v2/ktesting"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// backupNodes backs up n fake nodes of one cluster (shared table ids) to a file:// bucket
// and returns the nodes, the location and each node's manifest key.
func backupNodes(t *testing.T, n int, cfg fakecassandra.Config) ([]*fakecassandra.Node, string, []string) {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	loc := "file://" + t.TempDir() + "/bucket"
	var nodes []*fakecassandra.Node
	var keys []string
	for i := range n {
		c := cfg
		c.Seed, c.SchemaSeed = uint64(10+i), 7
		node := fakecassandra.New(t, c)
		for _, w := range []struct {
			ks, table string
			size      int
		}{{"ks1", "t1", 9000 + 100*i}, {"ks1", "t1", 4000}, {"ks1", "t2", 3000 + i}, {"system_auth", "roles", 700 + i}} {
			if err := node.WriteSSTable(w.ks, w.table, w.size); err != nil {
				t.Fatal(err)
			}
		}
		a := &Agent{Node: node.Client(), Hostname: fmt.Sprintf("node-%d", i), Credentials: storage.StaticCredentials(nil)}
		req := api.Request{Type: api.TypeBackup, StorageLocation: loc, SnapshotTag: "snap", CreateMissingBucket: true, ConcurrentConnections: 2}
		if err := a.Backup(ctx, req, &Tracker{}); err != nil {
			t.Fatal(err)
		}
		p, _, err := storage.OpenLocation(ctx, loc, storage.Config{})
		if err != nil {
			t.Fatal(err)
		}
		ref, ok, err := layout.Catalog{Storage: p}.ManifestRef(ctx, layout.Node{Cluster: node.ClusterName(), Datacenter: node.Datacenter(), HostID: node.HostID()}, "snap")
		p.Close()
		if err != nil || !ok {
			t.Fatalf("manifest of node %d: %v %v", i, ok, err)
		}
		nodes, keys = append(nodes, node), append(keys, ref.Key)
	}
	return nodes, loc, keys
}

// TestRestoreSeveralSources: three nodes restored into one data directory: every source
// SSTable is there exactly once, byte for byte, the clashing generations renumbered with
// all their components; the tokens are the union; the marker names all three manifests;
// a restart is a no-op and an interrupted restore resumes to the same result.
func TestRestoreSeveralSources(t *testing.T) {
	for _, cfg := range []fakecassandra.Config{{}, {Version: "oa", Format: "bti", UUIDGenerations: true}} {
		t.Run("format"+cfg.Version+cfg.Format, func(t *testing.T) {
			nodes, loc, keys := backupNodes(t, 3, cfg)
			root := t.TempDir()
			spec := RestoreSpec{
				Request: api.Request{Type: api.TypeRestore, StorageLocation: loc, SnapshotTag: "snap", NewCluster: true, ConcurrentConnections: 3,
					DataDirs: []string{filepath.Join(root, "data")}},
				Cluster: nodes[0].ClusterName(), Datacenter: nodes[0].Datacenter(), HostID: nodes[0].HostID(), ManifestKey: keys[0],
				More:       []RestoreSource{{HostID: nodes[1].HostID(), ManifestKey: keys[1]}, {HostID: nodes[2].HostID(), ManifestKey: keys[2]}},
				TokensFile: filepath.Join(root, "tokens.yaml"), MarkerFile: filepath.Join(root, "data", "restore_done"),
			}
			res, err := fileAgent().Restore(context.Background(), spec, &Tracker{})
			if err != nil {
				t.Fatal(err)
			}
			if want := plan.RestoreKey(loc, keys...); res.Key != want {
				t.Errorf("restore key %q, want %q", res.Key, want)
			}
			restored := func(ks, _ string) bool { return ks == "system_schema" || !cassandra.IsSystemKeyspace(ks) }
			var srcs []map[string][]byte
			var tokens []string
			for _, n := range nodes {
				srcs = append(srcs, liveFiles(t, n.DataDirs(), restored))
				tokens = append(tokens, n.Tokens()...)
			}
			got := liveFiles(t, spec.DataDirs, all)
			renumbered, err := fakecassandra.CheckUnion(srcs, got)
			if err != nil {
				t.Fatal(err)
			}
			if !cfg.UUIDGenerations && renumbered == 0 {
				t.Error("no SSTable renumbered: the sources' generations should clash")
			}
			t.Logf("%d files restored, %d SSTables renumbered", len(got), renumbered)
			frag, err := os.ReadFile(spec.TokensFile)
			if err != nil || string(frag) != TokensYAML(tokens)+"num_tokens: 48\n" || len(tokens) != 48 {
				t.Errorf("tokens fragment %q (%v), want the union of %d tokens", frag, err, len(tokens))
			}
			if again, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil || !again.AlreadyDone {
				t.Errorf("second run: %+v %v", again, err)
			}
			// Interrupted before the marker: the restore resumes and renames the same way.
			if err := os.Remove(spec.MarkerFile); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(spec.MarkerFile+".started", []byte(res.Key+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
				t.Fatalf("resumed: %v", err)
			}
			if again := liveFiles(t, spec.DataDirs, all); len(again) != len(got) {
				t.Errorf("resumed restore has %d files, first %d", len(again), len(got))
			}
		})
	}
}

// TestRestoreIncludeAuth: into a new cluster system_auth is restored only with IncludeAuth.
func TestRestoreIncludeAuth(t *testing.T) {
	nodes, loc, keys := backupNodes(t, 1, fakecassandra.Config{})
	for _, include := range []bool{false, true} {
		root := t.TempDir()
		spec := RestoreSpec{
			Request: api.Request{Type: api.TypeRestore, StorageLocation: loc, SnapshotTag: "snap", NewCluster: true, DataDirs: []string{filepath.Join(root, "data")}},
			Cluster: nodes[0].ClusterName(), Datacenter: nodes[0].Datacenter(), HostID: nodes[0].HostID(), ManifestKey: keys[0], IncludeAuth: include,
		}
		if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
			t.Fatal(err)
		}
		var kss []string
		for p := range liveFiles(t, spec.DataDirs, all) {
			kss = append(kss, strings.Split(p, string(filepath.Separator))[0])
		}
		auth := liveFiles(t, spec.DataDirs, func(ks, _ string) bool { return ks == "system_auth" })
		want := liveFiles(t, nodes[0].DataDirs(), func(ks, _ string) bool { return ks == "system_auth" })
		switch {
		case include && (len(auth) == 0 || len(auth) != len(want)):
			t.Errorf("includeAuth: %d system_auth files restored, the source has %d", len(auth), len(want))
		case !include && len(auth) != 0:
			t.Errorf("without includeAuth: system_auth restored (%d files)", len(auth))
		case slices.Contains(kss, "system") || !slices.Contains(kss, "system_schema"):
			t.Errorf("keyspaces restored: %v", kss)
		}
	}
}

// countingProvider counts the Gets of each key.
type countingProvider struct {
	storage.Provider
	gets map[string]int
}

func (c *countingProvider) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, error) {
	c.gets[key]++
	return c.Provider.Get(ctx, key, rng)
}

// Several sources' restore lists read each manifest once: the generations to renumber
// come from the same pass, and the lists give the renumbered local paths.
func TestRestoreListsReadEachManifestOnce(t *testing.T) {
	ctx := context.Background()
	p, sources, keys := backedUpSources(t, 3)
	cp := &countingProvider{Provider: p, gets: map[string]int{}}
	dataDir := t.TempDir()
	lists, err := readRestoreLists(ctx, cp, sources, func(layout.File) bool { return true }, dataDir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer closeLists(lists)
	for _, k := range keys {
		if cp.gets[k] != 1 {
			t.Errorf("manifest %s read %d times, want once", k, cp.gets[k])
		}
	}
	seen := map[string]int{}
	for i, l := range lists {
		if err := l.each(func(_ layout.Entry, path string) error { seen[path]++; return nil }); err != nil {
			t.Fatal(err)
		}
		wanted := 0
		if err := l.eachWanted(func(rel string) error {
			wanted++
			if seen[filepath.Join(dataDir, rel)] == 0 {
				t.Errorf("source %d: wanted %s is not a path its list fetches to", i, rel)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for path, n := range seen {
		if n != 1 {
			t.Errorf("%s is the local path of %d entries, want one", path, n)
		}
	}
}

// gatedProvider holds the first Get of a key with prefix first until a Get of a key with
// prefix second has begun, or records that a timeout passed first.
type gatedProvider struct {
	storage.Provider
	first, second string
	once          sync.Once
	secondBegun   chan struct{}
	held, timeout atomic.Bool
}

func (g *gatedProvider) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, error) {
	if strings.HasPrefix(key, g.second) {
		g.once.Do(func() { close(g.secondBegun) })
	}
	if strings.HasPrefix(key, g.first) && g.held.CompareAndSwap(false, true) {
		select {
		case <-g.secondBegun:
		case <-time.After(5 * time.Second):
			g.timeout.Store(true)
		}
	}
	return g.Provider.Get(ctx, key, rng)
}

// The sources of a restore share one pool of workers: while a file of the first source is
// still in flight, the next source's files start (downloading source by source, each
// waiting for the last, holds the gated file until the timeout).
func TestDownloadAllSourcesOnePool(t *testing.T) {
	ctx := context.Background()
	p, sources, _ := backedUpSources(t, 2)
	var lnodes []layout.Node
	for _, src := range sources {
		lnodes = append(lnodes, src.node)
	}
	dataDir := t.TempDir()
	lists, err := readRestoreLists(ctx, p, sources, func(layout.File) bool { return true }, dataDir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer closeLists(lists)
	g := &gatedProvider{Provider: p, first: lnodes[0].Key("data/"), second: lnodes[1].Key("data/"), secondBegun: make(chan struct{})}
	tr := &Tracker{}
	if err := downloadAll(ctx, g, lnodes, lists, 2, nil, tr); err != nil {
		t.Fatal(err)
	}
	if g.timeout.Load() {
		t.Error("no file of the second source started while one of the first was in flight")
	}
	if s := tr.Snapshot(); s.FilesTransferred != s.FilesTotal || s.FilesTotal == 0 || !g.held.Load() {
		t.Errorf("transfer %+v, gate used: %t", s, g.held.Load())
	}
}

// backedUpSources backs up n nodes (backupNodes) and returns their bucket, open until the
// test ends, the nodes as restore sources, and their manifests' keys.
func backedUpSources(t *testing.T, n int) (storage.Provider, []restoreSource, []string) {
	t.Helper()
	nodes, loc, keys := backupNodes(t, n, fakecassandra.Config{})
	p, _, err := storage.OpenLocation(context.Background(), loc, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	var sources []restoreSource
	for i, node := range nodes {
		ref, err := layout.ParseManifestKey(keys[i])
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, restoreSource{node: layout.Node{Cluster: node.ClusterName(), Datacenter: node.Datacenter(), HostID: node.HostID()}, ref: ref})
	}
	return p, sources, keys
}
