package verify

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"path"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// The per-chunk checksums of Data.db, as Cassandra 3.0 and later write them (CRC32,
// big-endian; ChecksumWriter, ChecksummedSequentialWriter, CompressedSequentialWriter and
// CompressionMetadata in Cassandra's source):
//
//   - uncompressed SSTable, CRC.db: the chunk length (int32), then the CRC32 of each chunk
//     of Data.db in order, the last chunk short;
//   - compressed SSTable, CompressionInfo.db: the compressor's class name (a Java
//     modified-UTF-8 string: an unsigned 16-bit length, then the bytes), the option count
//     (int32) and each option's name and value (two such strings), the chunk length
//     (int32), the maximum compressed length (int32; from SSTable version na, Cassandra
//     4.0, and in the bti format of 5.0), the uncompressed length (int64), the chunk count
//     (int32) and each chunk's offset in Data.db (int64). In Data.db each compressed chunk
//     is followed by the CRC32 of its compressed bytes, so chunk i is offset[i] up to
//     offset[i+1] (the file's end for the last) less those 4 bytes.
//
// Both are read as Data.db streams past (chunkChecker), never whole: memory stays the
// same for any file size.

// notDescribing begins the reason of a failed CRC.db or CompressionInfo.db.
const notDescribing = "does not describe its Data.db: "

// Components holding Data.db's per-chunk checksums.
const (
	crcComponent         = "CRC.db"
	compressionComponent = "CompressionInfo.db"
)

// chunkSource is the component that holds a Data.db's per-chunk checksums.
type chunkSource struct {
	comp    string // crcComponent or compressionComponent
	file    layout.File
	withMax bool // CompressionInfo.db records the maximum compressed length
}

// chunksOf returns the component holding the SSTable's per-chunk checksums
// (CompressionInfo.db for a compressed SSTable, else CRC.db), nil when it has neither.
func chunksOf(byComponent map[string]layout.File) *chunkSource {
	data, ok := byComponent["Data.db"]
	if !ok {
		return nil
	}
	d, err := cassandra.ParseDescriptor(path.Base(data.ObjectKey))
	if err != nil {
		return nil
	}
	for _, comp := range []string{compressionComponent, crcComponent} {
		if f, ok := byComponent[comp]; ok {
			return &chunkSource{comp: comp, file: f, withMax: d.Format == "bti" || d.Version >= "na"}
		}
	}
	return nil
}

// checkChunks reports what the chunk checks of an intact Data.db found, unless the
// component holding the checksums was itself found corrupt or missing (reported then).
func (c *checker) checkChunks(data layout.File, src *chunkSource, results map[string]fetched, nr *NodeResult) {
	d := results["Data.db"]
	if src == nil || !d.ok {
		return
	}
	if r, fetched := results[src.comp]; fetched && !r.ok {
		return
	}
	if d.chunkLayout != "" {
		nr.fail(c.node.Key(src.file.ObjectKey), "%s", d.chunkLayout)
	}
	if d.chunkMismatch != "" {
		nr.fail(c.node.Key(data.ObjectKey), "%s", d.chunkMismatch)
	}
}

// openChunks opens the component holding Data.db's chunk checksums, for a chunkChecker
// that Data.db streams through; when it cannot, it says why.
func (c *checker) openChunks(ctx context.Context, src chunkSource, size int64) (*chunkChecker, io.Closer, string, error) {
	rc, err := c.storage.Get(ctx, c.node.Key(src.file.ObjectKey), storage.Range{})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil, "missing: the manifest lists it, the bucket does not have it", nil
	case err != nil && ctx.Err() != nil:
		return nil, nil, "", context.Cause(ctx)
	case err != nil:
		return nil, nil, "download: " + oneLine(err), nil
	}
	br := bufio.NewReaderSize(rc, 32<<10)
	var l chunkLayout
	if src.comp == crcComponent {
		l, err = openCRC(br, size)
	} else {
		l, err = openCompressionInfo(br, size, src.withMax)
	}
	if err != nil {
		rc.Close()
		return nil, nil, notDescribing + oneLine(err), nil
	}
	return newChunkChecker(src.comp, l), rc, "", nil
}

// chunkChecker is an io.Writer that Data.db is streamed through: it computes each
// chunk's CRC32 and compares it with the one its layout records. It never fails a write,
// so the object's other checks go on; see failure.
type chunkChecker struct {
	layout chunkLayout
	comp   string // the component that locates the checksums

	pos     int64
	index   int   // the current chunk
	start   int64 // its offset in Data.db
	size    int64 // its length, without an inline checksum
	left    int64 // its bytes still to come
	want    uint32
	inline  bool
	inChunk bool
	trailer []byte // the inline checksum's bytes read so far
	crc     hash.Hash32

	bad   int    // chunks whose checksum differs
	first string // the first of them
	err   error  // the layout does not describe Data.db: checking stopped
}

func newChunkChecker(comp string, l chunkLayout) *chunkChecker {
	return &chunkChecker{layout: l, comp: comp, crc: crc32.NewIEEE(), trailer: make([]byte, 0, 4)}
}

func (c *chunkChecker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && c.err == nil {
		switch {
		case !c.inChunk:
			c.begin()
		case c.left > 0:
			k := min(int64(len(p)), c.left)
			c.crc.Write(p[:k])
			p, c.left, c.pos = p[k:], c.left-k, c.pos+k
			if c.left == 0 && !c.inline {
				c.done(c.want)
			}
		default: // the inline checksum
			k := min(4-len(c.trailer), len(p))
			c.trailer = append(c.trailer, p[:k]...)
			p, c.pos = p[k:], c.pos+int64(k)
			if len(c.trailer) == 4 {
				c.done(binary.BigEndian.Uint32(c.trailer))
			}
		}
	}
	return n, nil
}

// begin starts the next chunk at the current position.
func (c *chunkChecker) begin() {
	n, want, inline, err := c.layout.next(c.index, c.pos)
	switch {
	case errors.Is(err, io.EOF):
		c.err = fmt.Errorf("Data.db goes on at byte %d after the last of the %d chunks %s describes", c.pos, c.index, c.comp)
		return
	case err != nil:
		c.err = err
		return
	}
	c.start, c.size, c.left, c.want, c.inline, c.inChunk = c.pos, n, n, want, inline, true
	c.crc.Reset()
	c.trailer = c.trailer[:0]
	if n == 0 && !inline {
		c.done(want)
	}
}

// done ends the current chunk, whose recorded checksum is want.
func (c *chunkChecker) done(want uint32) {
	if got := c.crc.Sum32(); got != want {
		c.bad++
		if c.first == "" {
			where := c.comp + " records"
			if c.inline {
				where = "the checksum after it (located by " + c.comp + ") is"
			}
			c.first = fmt.Sprintf("chunk %d (Data.db bytes %d-%d): crc32 %08x, %s %08x",
				c.index, c.start, c.start+c.size-1, got, where, want)
		}
	}
	c.index++
	c.inChunk = false
}

// failure returns what the check found once Data.db ended: the chunks whose checksum
// differs (mismatch), or why the layout does not describe Data.db (layout); both empty
// when every chunk matched.
func (c *chunkChecker) failure() (mismatch, layout string) {
	if c.err == nil {
		if c.inChunk {
			c.err = fmt.Errorf("Data.db ends inside chunk %d", c.index)
		} else if _, _, _, err := c.layout.next(c.index, c.pos); !errors.Is(err, io.EOF) {
			c.err = fmt.Errorf("Data.db ends after %d chunks, %s describes more", c.index, c.comp)
			if err != nil {
				c.err = err
			}
		} else {
			c.err = c.layout.end(c.index)
		}
	}
	if c.bad > 0 {
		mismatch = c.first
		if c.bad > 1 {
			mismatch += fmt.Sprintf("; %d chunks differ", c.bad)
		}
	}
	if c.err != nil {
		layout = notDescribing + oneLine(c.err)
	}
	return mismatch, layout
}
