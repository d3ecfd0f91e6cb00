package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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

// randomAccess returns r as a random-access source and its size when it is one (an
// *os.File, a *bytes.Reader), not empty, and positioned at its start.
func randomAccess(r io.Reader) (readerAtSeeker, int64, bool) {
	src, ok := r.(readerAtSeeker)
	if !ok {
		return nil, 0, false
	}
	if pos, err := src.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		return nil, 0, false
	}
	size, err := src.Seek(0, io.SeekEnd)
	if _, serr := src.Seek(0, io.SeekStart); err != nil || serr != nil || size <= 0 {
		return nil, 0, false
	}
	return src, size, true
}

// newHashedFile starts hashing src, which has size bytes.
func newHashedFile(ctx context.Context, src readerAtSeeker, size int64, expected string) *hashedFile {
	hctx, cancel := context.WithCancel(ctx)
	f := &hashedFile{src: src, size: size, expected: strings.ToLower(expected), cancel: cancel, done: make(chan struct{})}
	go f.hash(hctx)
	return f
}

// hashBuffers hold the buffers of hashedFile.hash: one file after another, not 1 MiB of
// fresh memory for each.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func (f *hashedFile) hash(ctx context.Context) {
	defer close(f.done)
	h := sha256.New()
	bp := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(bp)
	buf := *bp
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

// meterKey carries a Put's storage.Meter to meteringClient through the request context.
type meterKey struct{}

// meteringClient reports the bodies of PUT requests (PutObject, UploadPart) to the
// storage.Meter their context carries, as the transport reads them to send.
type meteringClient struct{ next aws.HTTPClient }

func (c meteringClient) Do(req *http.Request) (*http.Response, error) {
	m, ok := req.Context().Value(meterKey{}).(storage.Meter)
	if !ok || req.Method != http.MethodPut || req.Body == nil || req.Body == http.NoBody {
		return c.next.Do(req)
	}
	out := *req
	out.Body = meteredBody{Reader: storage.MeteredReader(req.Context(), req.Body, m), Closer: req.Body}
	return c.next.Do(&out)
}

type meteredBody struct {
	io.Reader
	io.Closer
}

// Read marks the errors of the body, the meter's (a spent budget) and the source's, as
// not to be retried: the SDK would otherwise take them for a failed connection and try
// the request Retry.MaxAttempts times.
func (b meteredBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err != nil && err != io.EOF {
		err = finalError{err}
	}
	return n, err
}

// finalError is an error the SDK's retryer does not retry.
type finalError struct{ error }

func (finalError) RetryableError() bool { return false }
func (e finalError) Unwrap() error      { return e.error }

// putSingle uploads a random-access source larger than a part, up to the upload cutoff,
// with one PutObject and no buffer: one pass over the source computes SHA-256 and CRC32
// (and refuses a digest other than the expected one), a second one sends it. The CRC32
// goes with the request, so a source that changed in between is refused by the server.
func (p *Provider) putSingle(ctx context.Context, c *s3.Client, key string, src io.ReaderAt, size int64, opts storage.PutOptions, md map[string]string) (storage.ObjectInfo, error) {
	sha, crc := sha256.New(), crc32.NewIEEE()
	bp := hashBuffers.Get().(*[]byte)
	_, err := io.CopyBuffer(io.MultiWriter(sha, crc), io.NewSectionReader(src, 0, size), *bp)
	hashBuffers.Put(bp)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: read: %w", key, err)
	}
	sum := hex.EncodeToString(sha.Sum(nil))
	if opts.SHA256 != "" && !strings.EqualFold(sum, opts.SHA256) {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w: content has %s, expected %s", key, storage.ErrChecksumMismatch, sum, strings.ToLower(opts.SHA256))
	}
	return p.putObject(ctx, c, key, io.NewSectionReader(src, 0, size), size, sum, crc.Sum32(), opts, md)
}

// putObject sends one PutObject of known length, SHA-256 and CRC32.
func (p *Provider) putObject(ctx context.Context, c *s3.Client, key string, body io.ReadSeeker, size int64, sum string, crc uint32, opts storage.PutOptions, md map[string]string) (storage.ObjectInfo, error) {
	crc64 := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc))
	in := &s3.PutObjectInput{
		Bucket: &p.bucket, Key: &key, Metadata: md, Body: body,
		ContentLength: aws.Int64(size), ChecksumCRC32: &crc64,
	}
	if opts.ContentType != "" {
		in.ContentType = &opts.ContentType
	}
	if opts.Meter != nil {
		ctx = context.WithValue(ctx, meterKey{}, opts.Meter)
	}
	out, err := c.PutObject(ctx, in)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w", key, mapErr(err))
	}
	return storage.ObjectInfo{Key: key, Size: size, ModTime: time.Now(), SHA256: sum, ETag: aws.ToString(out.ETag), Metadata: md}, nil
}

// onceBuffers hold the buffers of putOnce, up to one part each.
var onceBuffers = sync.Pool{New: func() any { return new([]byte) }}

// putOnce uploads a random-access source of at most one part with one PutObject. It reads
// the source once, into a buffer, computing SHA-256 and CRC32 together; refuses a digest
// other than the expected one before anything is sent; and sends from memory. The
// upload manager would read the source three times: for the digest, for the CRC32 and
// to send it, which for the many small files of a backup costs more than the sending.
func (p *Provider) putOnce(ctx context.Context, c *s3.Client, key string, src io.ReaderAt, size int64, opts storage.PutOptions, md map[string]string) (storage.ObjectInfo, error) {
	bp := onceBuffers.Get().(*[]byte)
	defer onceBuffers.Put(bp)
	if int64(cap(*bp)) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	if n, err := src.ReadAt(buf, 0); int64(n) != size {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: read: %w", key, err)
	}
	digest := sha256.Sum256(buf)
	sum := hex.EncodeToString(digest[:])
	if opts.SHA256 != "" && !strings.EqualFold(sum, opts.SHA256) {
		return storage.ObjectInfo{}, fmt.Errorf("put %s: %w: content has %s, expected %s", key, storage.ErrChecksumMismatch, sum, strings.ToLower(opts.SHA256))
	}
	return p.putObject(ctx, c, key, bytes.NewReader(buf), size, sum, crc32.ChecksumIEEE(buf), opts, md)
}
