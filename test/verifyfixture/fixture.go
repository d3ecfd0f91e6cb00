// Package verifyfixture makes committed backups for the restore drill's tests: fake
// Cassandra nodes backed up by the real agent code into any bucket, then the topology
// written, as the backup controller commits a backup.
package verifyfixture

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// Node is a fake node and the host name the topology records for it.
type Node struct {
	*fakecassandra.Node
	Hostname string
}

// ChunkLength is the chunk length of the fixture's SSTables: small, so that each Data.db
// has several chunks, each with its checksum.
const ChunkLength = 4096

// Nodes starts n fake nodes of cluster/dc, each with three tables of a few SSTables:
// uncompressed ones (CRC.db) on even nodes, compressed ones (CompressionInfo.db) on odd.
func Nodes(t testing.TB, cluster, dc string, n int) []Node {
	t.Helper()
	cfgs := make([]fakecassandra.Config, n)
	for i := range cfgs {
		cfgs[i] = fakecassandra.Config{Compressed: i%2 == 1, ChunkLength: ChunkLength}
	}
	return NodesOf(t, cluster, dc, cfgs...)
}

// NodesOf starts a fake node of cluster/dc per config (its SSTable shape: release,
// version, format, compression), each with the tables Nodes writes.
func NodesOf(t testing.TB, cluster, dc string, cfgs ...fakecassandra.Config) []Node {
	t.Helper()
	var out []Node
	for i, cfg := range cfgs {
		cfg.ClusterName, cfg.Datacenter, cfg.Rack, cfg.Seed = cluster, dc, "rack1", uint64(300+i)
		fn := fakecassandra.New(t, cfg)
		for _, w := range []struct {
			ks, table string
			size      int
		}{{"ks1", "t1", 20000 + 1000*i}, {"ks1", "t1", 5000}, {"ks1", "t2", 3000}, {"ks2", "t3", 7000 + i}} {
			if err := fn.WriteSSTable(w.ks, w.table, w.size); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, Node{Node: fn, Hostname: dc + "-node-" + string(rune('a'+i))})
	}
	return out
}

// Backup backs the nodes up to location under tag with the agent, using the credentials
// of secret and the endpoints of cfg, and commits the backup with its topology.
func Backup(t testing.TB, location, tag string, secret map[string][]byte, cfg storage.Config, nodes []Node) {
	t.Helper()
	ctx := context.Background()
	cfg.Credentials = storage.StaticCredentials(secret)
	cfg.Insecure = true
	var hosts []layout.Host
	for _, n := range nodes {
		a := &agent.Agent{Node: n.Client(), Hostname: n.Hostname, Credentials: cfg.Credentials, Storage: cfg}
		req := api.Request{Type: api.TypeBackup, StorageLocation: location, SnapshotTag: tag, CreateMissingBucket: true,
			Insecure: true, ConcurrentConnections: 4}
		if err := a.Backup(ctx, req, &agent.Tracker{}); err != nil {
			t.Fatalf("backup of %s: %v", n.Hostname, err)
		}
		hosts = append(hosts, layout.Host{Hostname: n.Hostname, Cluster: n.ClusterName(), DC: n.Datacenter(), Rack: n.Rack(), NodeID: n.HostID(), IPAddress: "10.0.0.1"})
	}
	now := time.Now()
	top := layout.Topology{Timestamp: now.UnixMilli(), ClusterName: nodes[0].ClusterName(), SchemaVersion: nodes[0].SchemaVersion(), Topology: hosts}
	data, _ := json.Marshal(top)
	p, _, err := storage.OpenLocation(ctx, location, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Put(ctx, layout.TopologyKey(top.ClusterName, tag, top.SchemaVersion, now), bytes.NewReader(data), storage.PutOptions{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
}

// Object returns a data object of the node's backup whose file name ends with suffix
// (for example "-Data.db"), with its manifest entry.
func Object(t testing.TB, p storage.Provider, cluster, dc, tag string, n Node, suffix string) (string, layout.File) {
	t.Helper()
	node := layout.Node{Cluster: cluster, Datacenter: dc, HostID: n.HostID()}
	cat := layout.Catalog{Storage: p}
	ref, ok, err := cat.ManifestRef(context.Background(), node, tag)
	if err != nil || !ok {
		t.Fatalf("manifest of %s: %v %v", n.Hostname, ok, err)
	}
	var found layout.File
	if _, err := cat.ScanManifestAt(context.Background(), ref.Key, func(f layout.File) error {
		if found.ObjectKey == "" && len(f.ObjectKey) > len(suffix) && f.ObjectKey[len(f.ObjectKey)-len(suffix):] == suffix {
			found = f
		}
		return nil
	}); err != nil || found.ObjectKey == "" {
		t.Fatalf("no object *%s in %s: %v", suffix, ref.Key, err)
	}
	return node.Key(found.ObjectKey), found
}

// Count returns the number of entries of each node's manifest.
func Count(t testing.TB, p storage.Provider, cluster, dc, tag string, nodes []Node) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	cat := layout.Catalog{Storage: p}
	for _, n := range nodes {
		node := layout.Node{Cluster: cluster, Datacenter: dc, HostID: n.HostID()}
		ref, _, err := cat.ManifestRef(context.Background(), node, tag)
		if err != nil {
			t.Fatal(err)
		}
		s, err := cat.SummarizeManifest(context.Background(), ref.Key)
		if err != nil {
			t.Fatal(err)
		}
		out[n.Hostname] = s.Files
	}
	return out
}

// Corrupt flips one byte in the middle of the object at key, keeping its size.
func Corrupt(t testing.TB, p storage.Provider, key string) {
	t.Helper()
	ctx := context.Background()
	rc, err := p.Get(ctx, key, storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	rc.Close()
	if err != nil || buf.Len() == 0 {
		t.Fatalf("read %s: %v (%d bytes)", key, err, buf.Len())
	}
	b := buf.Bytes()
	b[len(b)/2] ^= 0x5a
	if _, err := p.Put(ctx, key, bytes.NewReader(b), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// SSTableFile returns the path of a component (such as "Data.db") of the first SSTable
// of ks1.t1 on the node's disk.
func SSTableFile(t testing.TB, n Node, component string) string {
	t.Helper()
	ss, err := n.SSTables("ks1", "t1")
	if err != nil || len(ss) == 0 {
		t.Fatalf("sstables: %v", err)
	}
	for _, f := range ss[0].Files {
		if strings.HasSuffix(f.Name, "-"+component) {
			return f.Path
		}
	}
	t.Fatalf("no %s in %+v", component, ss[0])
	return ""
}

// DamageChunk flips the byte at offset at of SSTableFile's Data.db on the node's disk and
// rewrites its Digest.crc32 to match, before a backup: the manifest's SHA-256, the Digest
// component and the digest in the object key then agree with the damaged file, and only
// the chunk checksums (CRC.db, or the CRC32 after each compressed chunk) can tell. It
// returns the Data.db's file name.
func DamageChunk(t testing.TB, n Node, at int) string {
	t.Helper()
	path := SSTableFile(t, n, "Data.db")
	b, err := os.ReadFile(path)
	if err != nil || at >= len(b) {
		t.Fatalf("Data.db: %v (%d bytes, byte %d wanted)", err, len(b), at)
	}
	b[at] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	digest := strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10)
	if err := os.WriteFile(SSTableFile(t, n, "Digest.crc32"), []byte(digest), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Base(path)
}
