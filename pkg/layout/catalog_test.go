package layout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
)

func put(t *testing.T, p storage.Provider, key string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Put(context.Background(), key, bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func manifest(tokens []string, objects ...string) *layout.Manifest {
	m := &layout.Manifest{Tokens: tokens, SchemaVersion: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", Snapshot: layout.Snapshot{Name: "s"}}
	for i, o := range objects {
		m.Add("ks", "t", "0123456789abcdef0123456789abcdef", "nb-"+string(rune('1'+i))+"-big",
			layout.Entry{ObjectKey: o, Type: "FILE", Size: 1, Hash: strings.Repeat("a", 64)})
	}
	return m
}

func TestCatalog(t *testing.T) {
	ctx := context.Background()
	p, _, err := storage.OpenLocation(ctx, "file://"+t.TempDir()+"/bucket", storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_700_000_000_000)
	sv := "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	n1 := layout.Node{Cluster: "c", Datacenter: "dc1", HostID: "11111111-2222-3333-4444-555555555555"}
	shared := "data/ks/t-0123456789abcdef0123456789abcdef/1-d1/nb-1-big-Data.db"
	own := "data/ks/t-0123456789abcdef0123456789abcdef/2-d2/nb-2-big-Data.db"
	put(t, p, n1.ManifestKey("old", sv, at), manifest([]string{"1"}, shared))
	put(t, p, n1.ManifestKey("snap", sv, at.Add(time.Second)), manifest([]string{"1", "2"}, shared, own))
	top := layout.Topology{ClusterName: "c", Topology: []layout.Host{
		{Hostname: "p-0", DC: "dc1", Rack: "r1", NodeID: n1.HostID},
		{Hostname: "q-0", DC: "dc2", NodeID: "99999999-2222-3333-4444-555555555555"},
	}}
	put(t, p, layout.TopologyKey("c", "snap", sv, at.Add(2*time.Second)), top)
	cat := layout.Catalog{Storage: p}

	refs, err := cat.Backups(ctx, "c")
	if err != nil || len(refs) != 1 || refs[0].Tag != "snap" {
		t.Errorf("Backups = %+v, %v", refs, err)
	}
	ref, nodes, err := cat.Backup(ctx, "c", "dc1", "snap")
	if err == nil && len(nodes) == 1 && (nodes[0].Manifest.Files != 2 || nodes[0].Manifest.Bytes != 2 || nodes[0].Manifest.SchemaVersion != sv) {
		t.Errorf("Backup's streamed summary = %+v; want 2 files, 2 bytes, schema %s", nodes[0].Manifest, sv)
	}
	if err != nil || len(nodes) != 1 || nodes[0].Host.Hostname != "p-0" || len(nodes[0].Manifest.Tokens) != 2 || !strings.HasPrefix(ref.Key, layout.TopologyDir+"/c-snap-") {
		t.Errorf("Backup = %v %+v, %v", ref, nodes, err)
	}
	if _, _, err := cat.Backup(ctx, "c", "dc1", "nope"); !errors.Is(err, layout.ErrNotFound) || !strings.Contains(err.Error(), "no topology of cluster c for snapshot nope") {
		t.Errorf("missing backup: %v", err)
	}
	if _, _, err := cat.Backup(ctx, "c", "dc2", "snap"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("a host without manifest: %v", err)
	}
	if _, m, ok, err := cat.NewestManifest(ctx, n1); err != nil || !ok || len(m.Tokens) != 2 {
		t.Errorf("NewestManifest = %+v %v %v", m, ok, err)
	}
	objects, manifests, err := cat.References(ctx, n1, "snap")
	if err != nil || len(manifests) != 1 || len(objects) != 2 || !objects[shared] || objects[own] {
		t.Errorf("References = %v %v %v; want %s shared with old and %s not", objects, manifests, err, shared, own)
	}
}
