package verify_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/verify"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/verifyfixture"
)

// shapes are the SSTable shapes whose chunk checksums differ in layout: uncompressed
// (CRC.db) and compressed (CompressionInfo.db, whose header gained the maximum compressed
// length in 4.0), on 3.x (mc), 4.x (nb) and 5.0 (bti da).
var shapes = []struct {
	name, checksums string
	cfg             fakecassandra.Config
}{
	{"3.x uncompressed", "CRC.db", fakecassandra.Config{Release: "3.11.17"}},
	{"3.x compressed", "CompressionInfo.db", fakecassandra.Config{Release: "3.11.17", Compressed: true}},
	{"4.x uncompressed", "CRC.db", fakecassandra.Config{}},
	{"4.x compressed", "CompressionInfo.db", fakecassandra.Config{Compressed: true}},
	{"5.0 bti compressed", "CompressionInfo.db", fakecassandra.Config{Release: "5.0.2", Version: "da", Format: "bti", Compressed: true}},
}

// shapedBucket backs up one fake node of the shape into a file:// bucket; prepare may
// change its files first.
func shapedBucket(t *testing.T, cfg fakecassandra.Config, prepare func(n verifyfixture.Node)) storage.Provider {
	t.Helper()
	cfg.ChunkLength = verifyfixture.ChunkLength
	return bucketOf(t, verifyfixture.NodesOf(t, cluster, dc, cfg), prepare)
}

var bytesRange = regexp.MustCompile(`chunk (\d+) \(Data\.db bytes (\d+)-(\d+)\)`)

func TestChunkChecksums(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			p := shapedBucket(t, s.cfg, nil)
			if r := run(t, p, 1); r.Failed() || r.Nodes[0].Objects == 0 {
				t.Fatalf("an intact %s backup: %+v", s.name, r)
			}
			var name string
			const at = 2*verifyfixture.ChunkLength + 100
			p = shapedBucket(t, s.cfg, func(n verifyfixture.Node) {
				name = verifyfixture.DamageChunk(t, n, at)
			})
			r := run(t, p, 1)
			if _, _, failures := r.Totals(); failures != 1 {
				t.Fatalf("%d failures, want the one chunk: %+v", failures, r)
			}
			f := r.Nodes[0].Failures[0]
			m := bytesRange.FindStringSubmatch(f.Reason)
			if !strings.HasSuffix(f.Key, "/"+name) || m == nil || !strings.Contains(f.Reason, s.checksums) {
				t.Fatalf("failure %+v does not name %s, its chunk and %s", f, name, s.checksums)
			}
			from, _ := strconv.Atoi(m[2])
			to, _ := strconv.Atoi(m[3])
			if !s.cfg.Compressed && (m[1] != "2" || from != 2*verifyfixture.ChunkLength || to != 3*verifyfixture.ChunkLength-1) {
				t.Errorf("uncompressed: %q, want chunk 2, bytes %d-%d", f.Reason, 2*verifyfixture.ChunkLength, 3*verifyfixture.ChunkLength-1)
			}
			if at < from || at > to+4 { // a compressed chunk's range leaves out the checksum after it
				t.Errorf("the flipped byte %d is not in the chunk named: %q", at, f.Reason)
			}
		})
	}
}

// A corrupt object whose chunk is also wrong is one failure, its SHA-256, naming the chunk.
func TestChunkNamedWithCorruptObject(t *testing.T) {
	p, nodes := bucket(t, nil)
	for _, n := range nodes {
		key, _ := verifyfixture.Object(t, p, cluster, dc, tag, n, "-Data.db")
		verifyfixture.Corrupt(t, p, key)
		r := run(t, p, 1)
		f, ok := failureOn(r, key)
		if _, _, failures := r.Totals(); !ok || failures != 1 || !strings.Contains(f.Reason, "sha256") || !bytesRange.MatchString(f.Reason) {
			t.Errorf("%d failures; on %s: %+v", failures, key, f)
		}
		verifyfixture.Corrupt(t, p, key) // flip it back
	}
}

// A CRC.db or CompressionInfo.db that does not describe Data.db is reported on its key,
// even when its SHA-256 matches the manifest.
func TestChunkLayoutRefused(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			var name string
			p := shapedBucket(t, s.cfg, func(n verifyfixture.Node) {
				path := verifyfixture.SSTableFile(t, n, s.checksums)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if s.checksums == "CRC.db" {
					b = b[:len(b)-4] // the last chunk's checksum lost
				} else {
					b = b[:len(b)-8] // the last chunk's offset lost
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				name = filepath.Base(path)
			})
			r := run(t, p, 1)
			var found bool
			for _, f := range r.Nodes[0].Failures {
				found = found || strings.HasSuffix(f.Key, "/"+name) && strings.Contains(f.Reason, "does not describe its Data.db")
			}
			if !found {
				t.Errorf("%s not refused: %+v", name, r)
			}
		})
	}
}

// The chunk checks stream: a Data.db read in pieces of any size finds the same chunk.
func TestChunkCheckerWriteSizes(t *testing.T) {
	var want string
	for _, piece := range []int{1 << 20, 1, 3, 4095, 4096, 4097} {
		p := shapedBucket(t, fakecassandra.Config{Compressed: true}, func(n verifyfixture.Node) {
			verifyfixture.DamageChunk(t, n, verifyfixture.ChunkLength+7)
		})
		r, err := verify.Run(context.Background(), verify.Options{Storage: bufferOf(p, piece), Cluster: cluster, Datacenter: dc, Tag: tag})
		if err != nil {
			t.Fatal(err)
		}
		if want == "" && len(r.Nodes[0].Failures) > 0 {
			want = r.Nodes[0].Failures[0].Reason
		}
		if _, _, failures := r.Totals(); failures != 1 || r.Nodes[0].Failures[0].Reason != want || !bytesRange.MatchString(want) {
			t.Errorf("pieces of %d bytes: %+v, want one failure %q", piece, r, want)
		}
	}
}

// pieces is a Provider whose downloads read at most n bytes at a time.
type pieces struct {
	storage.Provider
	n int
}

func bufferOf(p storage.Provider, n int) storage.Provider { return pieces{p, n} }

func (p pieces) Get(ctx context.Context, key string, r storage.Range) (io.ReadCloser, error) {
	rc, err := p.Provider.Get(ctx, key, r)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{&smallReads{rc, p.n}, rc}, nil
}

type smallReads struct {
	r io.Reader
	n int
}

func (s *smallReads) Read(b []byte) (int, error) { return s.r.Read(b[:min(len(b), s.n)]) }

// A CRC.db or CompressionInfo.db missing from the bucket is one failure, "missing", not a
// second one from the chunk check that needed it.
func TestChunkComponentMissingOnce(t *testing.T) {
	p, nodes := bucket(t, nil)
	for i, suffix := range []string{"-CRC.db", "-CompressionInfo.db"} { // node 0 uncompressed, node 1 compressed
		key, _ := verifyfixture.Object(t, p, cluster, dc, tag, nodes[i], suffix)
		if err := p.Delete(context.Background(), key); err != nil {
			t.Fatal(err)
		}
		r := run(t, p, 1)
		f, ok := failureOn(r, key)
		if _, _, failures := r.Totals(); failures != int64(i+1) || !ok || !strings.Contains(f.Reason, "missing") {
			t.Errorf("%d failures after %d deletions; on %s: %+v", failures, i+1, key, f)
		}
	}
}
