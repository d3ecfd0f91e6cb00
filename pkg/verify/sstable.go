package verify

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"hash/crc32"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// smallLimit bounds the components kept in memory for the checks (TOC.txt, Digest.*).
const smallLimit = 64 << 10

// checker downloads and checks the SSTables of one node.
type checker struct {
	storage  storage.Provider
	node     layout.Node
	sample   float64
	host     string
	progress func(node string, bytes int64)
}

// fetched is what a download of one object found.
type fetched struct {
	ok      bool   // present, with the manifest's size and SHA-256
	content []byte // the object, for the small components
	digests map[string]string
	// For Data.db: the chunks whose checksum differs, and why the component locating the
	// checksums does not describe it (chunks.go).
	chunkMismatch, chunkLayout string
}

// check verifies one SSTable: its sampled objects, its TOC.txt and its digest.
func (c *checker) check(ctx context.Context, s *sstable, nr *NodeResult) error {
	byComponent := map[string]layout.File{}
	for _, f := range s.files {
		d, err := cassandra.ParseDescriptor(path.Base(f.ObjectKey))
		if err != nil {
			nr.fail(c.node.Key(f.ObjectKey), "not an SSTable component: %s", oneLine(err))
			continue
		}
		byComponent[d.Component] = f
	}
	chunks := chunksOf(byComponent)
	results := map[string]fetched{}
	for comp, f := range byComponent {
		sampled := Sampled(c.node.Key(f.ObjectKey), c.sample)
		if !sampled && comp != "TOC.txt" && !isDigest(comp) {
			continue
		}
		var src *chunkSource
		if comp == "Data.db" && sampled {
			src = chunks
		}
		r, err := c.fetch(ctx, f, comp, sampled, src, nr)
		if err != nil {
			return err
		}
		results[comp] = r
	}
	data, hasData := byComponent["Data.db"]
	if !hasData {
		nr.fail(c.node.Key(path.Join(path.Dir(firstKey(s)), sstableName(s)+"-Data.db")), "SSTable %s.%s %s has no Data.db", s.keyspace, s.table, s.name)
	}
	if toc, ok := results["TOC.txt"]; ok && toc.ok {
		dir := path.Dir(byComponent["TOC.txt"].ObjectKey)
		for _, missing := range MissingComponents(toc.content, byComponent) {
			nr.fail(c.node.Key(path.Join(dir, sstableName(s)+"-"+missing)), "component %s listed in TOC.txt is not in the backup", missing)
		}
	}
	if hasData {
		c.checkDigest(s, data, byComponent, results, nr)
		c.checkChunks(data, chunks, results, nr)
	}
	return nil
}

// fetch downloads one object and checks its size and SHA-256 (and, for Data.db, computes
// the digests Cassandra writes); counted only when sampled.
func (c *checker) fetch(ctx context.Context, f layout.File, comp string, sampled bool, src *chunkSource, nr *NodeResult) (fetched, error) {
	key := c.node.Key(f.ObjectKey)
	rc, err := c.storage.Get(ctx, key, storage.Range{})
	if errors.Is(err, storage.ErrNotFound) {
		nr.fail(key, "missing: the manifest lists it, the bucket does not have it")
		return fetched{}, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return fetched{}, context.Cause(ctx)
		}
		nr.fail(key, "download: %s", oneLine(err))
		return fetched{}, nil
	}
	defer rc.Close()
	sum := sha256.New()
	w := []io.Writer{sum}
	var small bytes.Buffer
	if comp == "TOC.txt" || isDigest(comp) {
		w = append(w, &limitedBuffer{buf: &small, limit: smallLimit})
	}
	var hashes map[string]hash.Hash
	if comp == "Data.db" && sampled {
		hashes = map[string]hash.Hash{"Digest.crc32": crc32.NewIEEE(), "Digest.adler32": adler32.New(), "Digest.sha1": sha1.New()}
		for _, h := range hashes {
			w = append(w, h)
		}
	}
	var out fetched
	var chunks *chunkChecker
	if src != nil {
		ck, closer, why, err := c.openChunks(ctx, *src, f.Size)
		if err != nil {
			return fetched{}, err
		}
		if closer != nil {
			defer closer.Close()
			chunks = ck
			w = append(w, ck)
		}
		out.chunkLayout = why
	}
	n, err := io.Copy(io.MultiWriter(w...), rc)
	if sampled {
		nr.Objects++
		nr.Bytes += n
		if c.progress != nil {
			c.progress(c.host, n)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return fetched{}, context.Cause(ctx)
		}
		nr.fail(key, "download: %s", oneLine(err))
		return fetched{}, nil
	}
	if chunks != nil {
		out.chunkMismatch, out.chunkLayout = chunks.failure()
	}
	got := hex.EncodeToString(sum.Sum(nil))
	switch {
	case n != f.Size:
		nr.fail(key, "size %d, the manifest records %d", n, f.Size)
		return fetched{}, nil
	case f.Hash != "" && !strings.EqualFold(got, f.Hash):
		reason := fmt.Sprintf("sha256 %s, the manifest records %s", got, f.Hash)
		if out.chunkMismatch != "" {
			reason += "; first bad " + out.chunkMismatch
		}
		nr.fail(key, "%s", reason)
		return fetched{}, nil
	}
	out.ok, out.content = true, small.Bytes()
	if hashes != nil {
		out.digests = map[string]string{
			"Digest.crc32":   strconv.FormatUint(uint64(hashes["Digest.crc32"].(hash.Hash32).Sum32()), 10),
			"Digest.adler32": strconv.FormatUint(uint64(hashes["Digest.adler32"].(hash.Hash32).Sum32()), 10),
			"Digest.sha1":    hex.EncodeToString(hashes["Digest.sha1"].Sum(nil)),
		}
	}
	return out, nil
}

// checkDigest compares a downloaded Data.db with the SSTable's digest component, and the
// digest component with the digest in the object keys.
func (c *checker) checkDigest(s *sstable, data layout.File, byComponent map[string]layout.File, results map[string]fetched, nr *NodeResult) {
	for _, comp := range digestComponents {
		df, ok := byComponent[comp]
		if !ok {
			continue
		}
		r := results[comp]
		if !r.ok {
			return // reported by fetch
		}
		want := DigestValue(r.content)
		if k, err := layout.ParseObjectKey(df.ObjectKey); err == nil {
			if keyDigest, _, _ := strings.Cut(k.Digest, "-"); !strings.EqualFold(keyDigest, want) {
				nr.fail(c.node.Key(df.ObjectKey), "%s holds %s, the object key names digest %s", comp, want, keyDigest)
			}
		}
		if d := results["Data.db"]; d.ok && d.digests != nil && !strings.EqualFold(d.digests[comp], want) {
			nr.fail(c.node.Key(data.ObjectKey), "Data.db has %s %s, the SSTable's %s records %s", strings.TrimPrefix(comp, "Digest."), d.digests[comp], comp, want)
		}
		return // the preferred digest component decides
	}
}

// digestComponents are the whole-file digests of Data.db, in Cassandra's order of preference.
var digestComponents = []string{"Digest.crc32", "Digest.adler32", "Digest.sha1"}

func isDigest(comp string) bool {
	for _, c := range digestComponents {
		if c == comp {
			return true
		}
	}
	return false
}

// DigestValue reads a Digest component: the value is its first word (Digest.sha1 of old
// releases is "<hex>  <file name>").
func DigestValue(content []byte) string {
	f := strings.Fields(string(content))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// MissingComponents returns the components TOC.txt lists that the SSTable's entries lack.
func MissingComponents(toc []byte, have map[string]layout.File) []string {
	var out []string
	for _, c := range strings.Fields(string(toc)) {
		if _, ok := have[c]; !ok {
			out = append(out, c)
		}
	}
	return out
}

func firstKey(s *sstable) string { return s.files[0].ObjectKey }

// sstableName is the SSTable's file-name prefix (nb-2-big), without an index directory.
func sstableName(s *sstable) string { return path.Base(s.name) }

// limitedBuffer keeps the first limit bytes written to it.
type limitedBuffer struct {
	buf   *bytes.Buffer
	limit int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.limit - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
