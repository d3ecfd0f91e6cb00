package verify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/verify"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/verifyfixture"
)

// schemaV is the synthetic backup's schema version.
const schemaV = "0f6a2b7c-3d4e-4f50-8a61-b2c3d4e5f607"

// syntheticBackup writes a one-node backup of n SSTables (Data.db, Digest.crc32, TOC.txt
// each) into a file bucket, with a streamed manifest and the topology.
func syntheticBackup(b *testing.B, n int) storage.Provider {
	b.Helper()
	ctx := context.Background()
	p, _, err := storage.OpenLocation(ctx, "file://"+filepath.Join(b.TempDir(), "bucket"), storage.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.CreateBucket(ctx); err != nil {
		b.Fatal(err)
	}
	node := layout.Node{Cluster: cluster, Datacenter: dc, HostID: "6a1f5c2e-0b1d-4c1e-9a55-0d9b3c1f2e77"}
	id := "5a1c395eb41f11e59f22ba0be0483c18"
	put := func(key string, data []byte) layout.Entry {
		if _, err := p.Put(ctx, node.Key(key), bytes.NewReader(data), storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(data)
		return layout.Entry{ObjectKey: key, Type: layout.TypeFile, Size: int64(len(data)), Hash: hex.EncodeToString(sum[:])}
	}
	var manifest bytes.Buffer
	mw := layout.NewManifestWriter(&manifest, tag)
	if err := mw.Table("ks1", "t1", id, ""); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		data := []byte(fmt.Sprintf("sstable %d data", i))
		digest := fmt.Sprint(crc32.ChecksumIEEE(data))
		gen := fmt.Sprintf("%07d", i+1) // names in order, as the writer wants them
		name := "nb-" + gen + "-big"
		key := func(c string) string {
			return layout.SSTableKey("ks1", cassandra.TableDirName("t1", id), "", gen, digest, name+"-"+c)
		}
		for _, e := range []layout.Entry{
			put(key("Data.db"), data), put(key("Digest.crc32"), []byte(digest)),
			put(key("TOC.txt"), []byte("Data.db\nDigest.crc32\nTOC.txt\n")),
		} {
			if err := mw.Add(name, e); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := mw.Close(layout.ManifestHeader{Name: tag, Tokens: []string{"42"}, SchemaVersion: schemaV}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if _, err := p.Put(ctx, node.ManifestKey(tag, schemaV, now), &manifest, storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	top, _ := json.Marshal(layout.Topology{Timestamp: now.UnixMilli(), ClusterName: cluster, SchemaVersion: schemaV,
		Topology: []layout.Host{{Hostname: "n1", Cluster: cluster, DC: dc, Rack: "r1", NodeID: node.HostID, IPAddress: "10.0.0.1"}}})
	if _, err := p.Put(ctx, layout.TopologyKey(cluster, tag, schemaV, now), bytes.NewReader(top), storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkVerifyMemory verifies backups of 1,000 and 5,000 SSTables (3,000 and 15,000
// objects) and reports the peak heap in use during the run: it must not grow with the
// file count. Run: go test ./pkg/verify -run '^$' -bench VerifyMemory -benchtime 1x
func BenchmarkVerifyMemory(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("sstables=%d", n), func(b *testing.B) {
			p := syntheticBackup(b, n)
			peak, _ := peakHeap(b, func() {
				r, err := verify.Run(context.Background(), verify.Options{Storage: p, Cluster: cluster, Datacenter: dc, Tag: tag})
				if err != nil || r.Failed() || r.Nodes[0].Objects != int64(3*n) {
					b.Fatalf("%v %+v", err, r)
				}
			})
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(3*n*b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}

// peakHeap runs run b.N times, timed, and returns the peak heap in use meanwhile and
// what was in use before.
func peakHeap(b *testing.B, run func()) (peak, before uint64) {
	b.Helper()
	// A small GC target makes the peak close to what is live, not to garbage.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before = ms.HeapInuse
	var top atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > top.Load() {
				top.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	for range b.N {
		run()
	}
	b.StopTimer()
	close(stop)
	<-done
	return max(top.Load(), before), before
}

// BenchmarkVerifyChunks verifies one node whose largest Data.db is 16 or 128 MiB,
// uncompressed (CRC.db) and compressed (CompressionInfo.db), every chunk checked, and
// reports the peak heap above what the fake node holds and the bytes verified per
// second: the chunk checks stream, so the peak does not grow with the file. Run:
// go test ./pkg/verify -run '^$' -bench VerifyChunks -benchtime 3x
func BenchmarkVerifyChunks(b *testing.B) {
	for _, compressed := range []bool{false, true} {
		for _, mib := range []int{16, 128} {
			b.Run(fmt.Sprintf("compressed=%v/data=%dMiB", compressed, mib), func(b *testing.B) {
				nodes := verifyfixture.NodesOf(b, cluster, dc, fakecassandra.Config{Compressed: compressed})
				if err := nodes[0].WriteSSTable("ks3", "big", mib<<20); err != nil {
					b.Fatal(err)
				}
				loc := "file://" + filepath.Join(b.TempDir(), "bucket")
				verifyfixture.Backup(b, loc, tag, nil, storage.Config{}, nodes)
				p, _, err := storage.OpenLocation(context.Background(), loc, storage.Config{})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				var verified int64
				peak, before := peakHeap(b, func() {
					r, err := verify.Run(context.Background(), verify.Options{Storage: p, Cluster: cluster, Datacenter: dc, Tag: tag})
					if err != nil || r.Failed() {
						b.Fatalf("%v %+v", err, r)
					}
					verified += r.Nodes[0].Bytes
				})
				b.ReportMetric(float64(peak-before)/(1<<20), "peak-heap-above-MiB")
				b.ReportMetric(float64(verified)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
			})
		}
	}
}
