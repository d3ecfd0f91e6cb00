package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// readerAtSeeker is what the upload manager reads in parallel sections without copying
// parts into buffers (an *os.File, for instance).
type readerAtSeeker interface {
	io.ReaderAt
	io.ReadSeeker
}

// hashedFile is an upload body for random-access sources. The manager reads its parts
// concurrently, straight from the source, while SHA-256 is computed alongside in one
// sequential pass over the same source. A read that reaches the end of the source waits
// for the digest and fails with storage.ErrChecksumMismatch when it differs from the
// expected one: the last part then fails and the manager aborts the upload, so a
// mismatching object is never committed.
type hashedFile struct {
	src      readerAtSeeker
	size     int64
	off      int64 // for Read
	expected string
	cancel   context.CancelFunc
	done     chan struct{}
	sum      string
	err      error
}

// newHashedFile returns a hashedFile when r is a non-empty random-access source positioned
// at its start, and false otherwise (the caller then streams through a SHA256Reader).
func newHashedFile(ctx context.Context, r io.Reader, expected string) (*hashedFile, bool) {
	src, ok := r.(readerAtSeeker)
	if !ok {
		return nil, false
	}
	if pos, err := src.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		return nil, false
	}
	size, err := src.Seek(0, io.SeekEnd)
	if _, serr := src.Seek(0, io.SeekStart); err != nil || serr != nil || size <= 0 {
		return nil, false
	}
	hctx, cancel := context.WithCancel(ctx)
	f := &hashedFile{src: src, size: size, expected: strings.ToLower(expected), cancel: cancel, done: make(chan struct{})}
	go f.hash(hctx)
	return f, true
}

func (f *hashedFile) hash(ctx context.Context) {
	defer close(f.done)
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < f.size; {
		if err := ctx.Err(); err != nil {
			f.err = err
			return
		}
		n, err := f.src.ReadAt(buf[:min(int64(len(buf)), f.size-off)], off)
		h.Write(buf[:n])
		off += int64(n)
		if err != nil && !(err == io.EOF && off == f.size) {
			f.err = fmt.Errorf("hash: %w", err)
			return
		}
	}
	f.sum = hex.EncodeToString(h.Sum(nil))
	if f.expected != "" && f.sum != f.expected {
		f.err = fmt.Errorf("%w: content has %s, expected %s", storage.ErrChecksumMismatch, f.sum, f.expected)
	}
}

// ReadAt reads from the source; a read that reaches the end returns only after the
// digest is known, with its error if any.
func (f *hashedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.src.ReadAt(p, off)
	if off+int64(n) >= f.size {
		<-f.done
		if f.err != nil {
			return n, f.err
		}
	}
	return n, err
}

// Read reads sequentially through ReadAt.
func (f *hashedFile) Read(p []byte) (int, error) {
	if f.off >= f.size {
		return 0, io.EOF
	}
	n, err := f.ReadAt(p[:min(int64(len(p)), f.size-f.off)], f.off)
	f.off += int64(n)
	if err == nil && f.off >= f.size {
		err = io.EOF
	}
	return n, err
}

// Seek positions Read, within the source's size.
func (f *hashedFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.size
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek: negative position %d", offset)
	}
	f.off = offset
	return offset, nil
}

// Sum waits for the digest and returns it.
func (f *hashedFile) Sum() string { <-f.done; return f.sum }

// N returns the source's size.
func (f *hashedFile) N() int64 { return f.size }

// stop cancels the hashing if the upload ended first.
func (f *hashedFile) stop() { f.cancel(); <-f.done }
