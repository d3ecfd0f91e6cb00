package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
	"github.com/cassbackup/cassandra-backup-operator/pkg/verify"
	"github.com/cassbackup/cassandra-backup-operator/test/verifyfixture"
)

const cluster, dc, tag = "drill-cluster", "dc1", "snap-1"

// bucket backs up fresh fake nodes into a file:// bucket; prepare may change a node's
// files first.
func bucket(t *testing.T, prepare func(n verifyfixture.Node)) (storage.Provider, []verifyfixture.Node) {
	t.Helper()
	nodes := verifyfixture.Nodes(t, cluster, dc, 2)
	return bucketOf(t, nodes, prepare), nodes
}

// bucketOf backs the nodes up into a file:// bucket; prepare may change the first node's
// files first.
func bucketOf(t *testing.T, nodes []verifyfixture.Node, prepare func(n verifyfixture.Node)) storage.Provider {
	t.Helper()
	if prepare != nil {
		prepare(nodes[0])
	}
	loc := "file://" + filepath.Join(t.TempDir(), "bucket")
	verifyfixture.Backup(t, loc, tag, nil, storage.Config{}, nodes)
	p, _, err := storage.OpenLocation(context.Background(), loc, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func run(t *testing.T, p storage.Provider, sample float64) verify.Result {
	t.Helper()
	r, err := verify.Run(context.Background(), verify.Options{Storage: p, Cluster: cluster, Datacenter: dc, Tag: tag, Sample: sample})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// failureOn returns the failure naming key.
func failureOn(r verify.Result, key string) (verify.Failure, bool) {
	for _, n := range append([]verify.NodeResult{r.Backup}, r.Nodes...) {
		for _, f := range n.Failures {
			if f.Key == key {
				return f, true
			}
		}
	}
	return verify.Failure{}, false
}

func TestGoodBackup(t *testing.T) {
	p, nodes := bucket(t, nil)
	want := verifyfixture.Count(t, p, cluster, dc, tag, nodes)
	r := run(t, p, 1)
	if r.Failed() || len(r.Nodes) != 2 {
		t.Fatalf("result %+v", r)
	}
	for _, n := range r.Nodes {
		if n.Objects != want[n.Node] || n.Total != want[n.Node] || n.Bytes == 0 {
			t.Errorf("node %s: %d of %d objects verified (%d bytes), manifest has %d", n.Node, n.Objects, n.Total, n.Bytes, want[n.Node])
		}
	}
}

func TestCorruptAndMissing(t *testing.T) {
	p, nodes := bucket(t, nil)
	corrupt, _ := verifyfixture.Object(t, p, cluster, dc, tag, nodes[0], "-Data.db")
	missing, _ := verifyfixture.Object(t, p, cluster, dc, tag, nodes[1], "-Index.db")
	verifyfixture.Corrupt(t, p, corrupt)
	if err := p.Delete(context.Background(), missing); err != nil {
		t.Fatal(err)
	}
	r := run(t, p, 1)
	if !r.Failed() {
		t.Fatal("a corrupt and a missing object verified")
	}
	if f, ok := failureOn(r, corrupt); !ok || !strings.Contains(f.Reason, "sha256") {
		t.Errorf("corrupt object %s: %+v %v; result %+v", corrupt, f, ok, r)
	}
	if f, ok := failureOn(r, missing); !ok || !strings.Contains(f.Reason, "missing") {
		t.Errorf("missing object %s: %+v %v; result %+v", missing, f, ok, r)
	}
	if _, _, failures := r.Totals(); failures != 2 {
		t.Errorf("%d failures, want 2: %+v", failures, r)
	}
	if msg := r.Message(); !strings.Contains(msg, "2 failures") {
		t.Errorf("message %q", msg)
	}
}

func TestSample(t *testing.T) {
	p, nodes := bucket(t, nil)
	total := verifyfixture.Count(t, p, cluster, dc, tag, nodes)
	a, b := run(t, p, 0.1), run(t, p, 0.1)
	var got, all int64
	for i, n := range a.Nodes {
		if n.Objects != b.Nodes[i].Objects || n.Bytes != b.Nodes[i].Bytes {
			t.Errorf("two runs of a 10%% sample differ: %+v, %+v", n, b.Nodes[i])
		}
		got += n.Objects
		all += total[n.Node]
	}
	if a.Failed() || got == 0 || got > all/4 {
		t.Errorf("10%% sample verified %d of %d objects: %+v", got, all, a)
	}
	// What the sample holds is what Sampled picks.
	var want int64
	for _, n := range nodes {
		node := layout.Node{Cluster: cluster, Datacenter: dc, HostID: n.HostID()}
		cat := layout.Catalog{Storage: p}
		ref, _, _ := cat.ManifestRef(context.Background(), node, tag)
		cat.ScanManifestAt(context.Background(), ref.Key, func(f layout.File) error {
			if verify.Sampled(node.Key(f.ObjectKey), 0.1) {
				want++
			}
			return nil
		})
	}
	if got != want {
		t.Errorf("sample verified %d objects, Sampled picks %d", got, want)
	}
}

func TestMissingTOCComponent(t *testing.T) {
	var name string
	p, _ := bucket(t, func(n verifyfixture.Node) {
		f := verifyfixture.SSTableFile(t, n, "Filter.db")
		name = filepath.Base(f)
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	})
	r := run(t, p, 1)
	var found bool
	for _, f := range r.Nodes[0].Failures {
		found = found || strings.HasSuffix(f.Key, "/"+name) && strings.Contains(f.Reason, "TOC.txt")
	}
	if !found || r.Nodes[1].FailureCount != 0 {
		t.Errorf("missing %s not reported: %+v", name, r)
	}
}

func TestDigestMismatch(t *testing.T) {
	p, _ := bucket(t, func(n verifyfixture.Node) {
		if err := os.WriteFile(verifyfixture.SSTableFile(t, n, "Digest.crc32"), []byte("12345"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	r := run(t, p, 1)
	var found bool
	for _, f := range r.Nodes[0].Failures {
		found = found || strings.HasSuffix(f.Key, "-Data.db") && strings.Contains(f.Reason, "Digest.crc32 records 12345")
	}
	if !found {
		t.Errorf("Data.db against Digest.crc32 not checked: %+v", r)
	}
}
