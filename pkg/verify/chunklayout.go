package verify

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// The layouts of the components that hold Data.db's per-chunk checksums (chunks.go).

// maxOptions bounds the compressor options read from CompressionInfo.db.
const maxOptions = 1024

// chunkLayout yields the chunks of one Data.db in order.
type chunkLayout interface {
	// next returns the length of chunk i, which starts at Data.db offset pos, and its
	// checksum when it is stored apart; inline means the checksum is the 4 bytes after the
	// chunk. io.EOF: there is no chunk i.
	next(i int, pos int64) (n int64, want uint32, inline bool, err error)
	// end reports checksums left over once Data.db ended after chunks chunks.
	end(chunks int) error
}

// crcLayout reads CRC.db: fixed-length chunks with their checksums apart.
type crcLayout struct {
	r     *bufio.Reader
	chunk int64
	size  int64 // of Data.db
}

func openCRC(r *bufio.Reader, size int64) (*crcLayout, error) {
	chunk, err := readInt32(r)
	if err != nil {
		return nil, fmt.Errorf("%s: chunk length: %w", crcComponent, err)
	}
	if chunk <= 0 {
		return nil, fmt.Errorf("%s: chunk length %d", crcComponent, chunk)
	}
	return &crcLayout{r: r, chunk: int64(chunk), size: size}, nil
}

func (l *crcLayout) next(i int, pos int64) (int64, uint32, bool, error) {
	if pos >= l.size {
		return 0, 0, false, io.EOF
	}
	want, err := readInt32(l.r)
	if err != nil {
		return 0, 0, false, fmt.Errorf("%s ends after %d checksums, Data.db (%d bytes) has %d chunks of %d bytes: %w",
			crcComponent, i, l.size, (l.size+l.chunk-1)/l.chunk, l.chunk, err)
	}
	return min(l.chunk, l.size-pos), uint32(want), false, nil
}

func (l *crcLayout) end(chunks int) error {
	if _, err := l.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("%s holds more checksums than the %d chunks of Data.db", crcComponent, chunks)
	}
	return nil
}

// compressionLayout reads CompressionInfo.db: chunks at its offsets, each followed by its
// checksum.
type compressionLayout struct {
	r     *bufio.Reader
	count int
	size  int64 // of Data.db
	off   int64 // the offset of the next chunk, read ahead
}

// openCompressionInfo reads CompressionInfo.db's header and first offset; withMax says
// whether the header has the maximum compressed length (the SSTable's version).
func openCompressionInfo(r *bufio.Reader, size int64, withMax bool) (*compressionLayout, error) {
	fail := func(what string, err error) error {
		return fmt.Errorf("%s: %s: %w", compressionComponent, what, err)
	}
	if err := skipUTF(r); err != nil {
		return nil, fail("compressor", err)
	}
	opts, err := readInt32(r)
	if err == nil && (opts < 0 || opts > maxOptions) {
		err = fmt.Errorf("%d options", opts)
	}
	if err != nil {
		return nil, fail("options", err)
	}
	for range 2 * opts {
		if err := skipUTF(r); err != nil {
			return nil, fail("options", err)
		}
	}
	chunk, err := readInt32(r)
	if err == nil && chunk <= 0 {
		err = fmt.Errorf("%d", chunk)
	}
	if err != nil {
		return nil, fail("chunk length", err)
	}
	if withMax {
		if _, err := readInt32(r); err != nil {
			return nil, fail("maximum compressed length", err)
		}
	}
	if _, err := readInt64(r); err != nil {
		return nil, fail("data length", err)
	}
	count, err := readInt32(r)
	if err == nil && (count <= 0 || int64(count) > size/4) {
		err = fmt.Errorf("%d chunks in a Data.db of %d bytes (each chunk ends with a 4-byte checksum)", count, size)
	}
	if err != nil {
		return nil, fail("chunk count", err)
	}
	l := &compressionLayout{r: r, count: int(count), size: size}
	if l.off, err = readInt64(r); err != nil {
		return nil, fail("offset of chunk 0", err)
	}
	return l, nil
}

func (l *compressionLayout) next(i int, pos int64) (int64, uint32, bool, error) {
	if i >= l.count {
		return 0, 0, false, io.EOF
	}
	if l.off != pos {
		return 0, 0, false, fmt.Errorf("%s places chunk %d at offset %d of Data.db, the chunks before it end at %d", compressionComponent, i, l.off, pos)
	}
	end := l.size
	if i+1 < l.count {
		var err error
		if end, err = readInt64(l.r); err != nil {
			return 0, 0, false, fmt.Errorf("%s: offset of chunk %d of %d: %w", compressionComponent, i+1, l.count, err)
		}
		l.off = end
	}
	if end-pos < 4 {
		return 0, 0, false, fmt.Errorf("%s: chunk %d spans %d bytes of Data.db, less than its 4-byte checksum", compressionComponent, i, end-pos)
	}
	return end - pos - 4, 0, true, nil
}

func (l *compressionLayout) end(int) error { return nil }

func readInt32(r io.Reader) (int32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b[:])), nil
}

func readInt64(r io.Reader) (int64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b[:])), nil
}

// skipUTF skips a Java modified-UTF-8 string: a 16-bit length, then the bytes.
func skipUTF(r *bufio.Reader) error {
	var b [2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	_, err := r.Discard(int(binary.BigEndian.Uint16(b[:])))
	return err
}
