// Package storagetest is the conformance suite every storage.Provider passes. Each
// provider's tests call Run against a real server (or directory) they start themselves.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// PartSize is the part size the suite expects targets to configure (S3's minimum), so
// that multi-part uploads are exercised with small objects.
const PartSize = 5 << 20

// ListPageSize is the page size the suite expects targets to configure, so that
// pagination is exercised with a handful of objects.
const ListPageSize = 2

// Target is a provider under test.
type Target struct {
	// Open opens a provider for bucket with the given credentials, configured with
	// PartSize and ListPageSize. The bucket need not exist.
	Open func(t *testing.T, bucket string, creds storage.CredentialSource) storage.Provider
	// Credentials is Secret data the server accepts.
	Credentials map[string][]byte
	// BadCredentials is Secret data the server rejects (same rules, wrong secret); nil
	// when the server does not check credentials.
	BadCredentials map[string][]byte
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, target Target) {
	s := &suite{target: target}
	t.Run("Bucket", s.bucket)
	t.Run("EnsureBucket", s.ensureBucket)
	t.Run("PutGet", s.putGet)
	t.Run("Range", s.ranges)
	t.Run("Head", s.head)
	t.Run("Overwrite", s.overwrite)
	t.Run("ChecksumMismatchNotCommitted", s.checksumMismatch)
	t.Run("ReaderErrorNotCommitted", s.readerError)
	t.Run("Meter", s.meter)
	t.Run("BadInputRefused", s.badInput)
	t.Run("PutMissingBucket", s.putMissingBucket)
	t.Run("List", s.list)
	t.Run("Delete", s.delete)
	t.Run("Refresh", s.refresh)
	t.Run("Concurrent", s.concurrent)
	t.Run("CredentialsResolvedPerOperation", s.perOperation)
	if target.BadCredentials != nil {
		t.Run("CredentialRotation", s.rotation)
	}
}

type suite struct {
	target Target
	n      atomic.Int64
}

// newBucket returns an unused bucket name (valid for every cloud).
func (s *suite) newBucket(t *testing.T) string {
	return fmt.Sprintf("conf-%d-%s", s.n.Add(1), randHex(t, 4))
}

func (s *suite) open(t *testing.T, bucket string) storage.Provider {
	return s.target.Open(t, bucket, storage.StaticCredentials(s.target.Credentials))
}

// withBucket opens a provider on a freshly created bucket.
func (s *suite) withBucket(t *testing.T) storage.Provider {
	p := s.open(t, s.newBucket(t))
	if err := p.CreateBucket(t.Context()); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return p
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func put(t *testing.T, p storage.Provider, key string, data []byte, opts storage.PutOptions) storage.ObjectInfo {
	t.Helper()
	info, err := p.Put(t.Context(), key, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Put %s (%d bytes): %v", key, len(data), err)
	}
	return info
}

func get(t *testing.T, p storage.Provider, key string, rng storage.Range) []byte {
	t.Helper()
	rc, err := p.Get(t.Context(), key, rng)
	if err != nil {
		t.Fatalf("Get %s %+v: %v", key, rng, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s %+v: %v", key, rng, err)
	}
	return b
}

func mustNotExist(t *testing.T, p storage.Provider, key string) {
	t.Helper()
	if info, err := p.Head(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Head %s = %+v, %v; want ErrNotFound", key, info, err)
	}
}

func (s *suite) bucket(t *testing.T) {
	ctx := t.Context()
	p := s.open(t, s.newBucket(t))
	if ok, err := p.BucketExists(ctx); err != nil || ok {
		t.Fatalf("BucketExists on a new name = %t, %v; want false, nil", ok, err)
	}
	if err := p.CreateBucket(ctx); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if ok, err := p.BucketExists(ctx); err != nil || !ok {
		t.Fatalf("BucketExists after CreateBucket = %t, %v; want true, nil", ok, err)
	}
	if err := p.CreateBucket(ctx); !errors.Is(err, storage.ErrBucketExists) {
		t.Fatalf("second CreateBucket = %v; want ErrBucketExists", err)
	}
}

func (s *suite) ensureBucket(t *testing.T) {
	ctx := t.Context()
	p := s.open(t, s.newBucket(t))
	if err := storage.EnsureBucket(ctx, p, storage.BucketPolicy{SkipBucketVerification: true}); err != nil {
		t.Fatalf("skipBucketVerification on a missing bucket: %v; want nil", err)
	}
	if ok, _ := p.BucketExists(ctx); ok {
		t.Fatal("skipBucketVerification created the bucket")
	}
	if err := storage.EnsureBucket(ctx, p, storage.BucketPolicy{}); !errors.Is(err, storage.ErrBucketNotFound) || !strings.Contains(err.Error(), "createMissingBucket") {
		t.Fatalf("missing bucket without createMissingBucket: %v; want ErrBucketNotFound naming createMissingBucket", err)
	}
	if err := storage.EnsureBucket(ctx, p, storage.BucketPolicy{CreateMissingBucket: true}); err != nil {
		t.Fatalf("createMissingBucket: %v", err)
	}
	if ok, err := p.BucketExists(ctx); err != nil || !ok {
		t.Fatalf("after createMissingBucket BucketExists = %t, %v", ok, err)
	}
	// Existing bucket: both policies succeed.
	for _, pol := range []storage.BucketPolicy{{}, {CreateMissingBucket: true}} {
		if err := storage.EnsureBucket(ctx, p, pol); err != nil {
			t.Fatalf("EnsureBucket %+v on an existing bucket: %v", pol, err)
		}
	}
}

func (s *suite) putGet(t *testing.T) {
	p := s.withBucket(t)
	for _, n := range []int{0, 1, 1000, PartSize - 1, PartSize, PartSize + 1, 2*PartSize + PartSize/2} {
		for _, body := range bodies {
			t.Run(fmt.Sprintf("%s/%d", body.name, n), func(t *testing.T) {
				data := randBytes(t, n)
				key := fmt.Sprintf("data/ks/t-1/%s-%d/nb-1-big-Data.db", body.name, n)
				info, err := p.Put(t.Context(), key, body.wrap(data), storage.PutOptions{})
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if info.Size != int64(n) || info.SHA256 != sum(data) || info.Key != key {
					t.Fatalf("Put returned %+v; want key %s size %d sha256 %s", info, key, n, sum(data))
				}
				if got := get(t, p, key, storage.Range{}); !bytes.Equal(got, data) {
					t.Fatalf("Get returned %d bytes (sha256 %s); want %d bytes (sha256 %s)", len(got), sum(got), n, sum(data))
				}
				h, err := p.Head(t.Context(), key)
				if err != nil || h.Size != int64(n) {
					t.Fatalf("Head = %+v, %v; want size %d", h, err, n)
				}
			})
		}
	}
	t.Run("KeyCharacters", func(t *testing.T) {
		for _, key := range []string{"a b/c+d=e", "ünïcödé/文件", "x/y/z/deep/nested/key.json", "dots.and-dashes_and~tilde"} {
			data := []byte("content of " + key)
			put(t, p, key, data, storage.PutOptions{})
			if got := get(t, p, key, storage.Range{}); !bytes.Equal(got, data) {
				t.Fatalf("key %q: got %q", key, got)
			}
		}
	})
}

// body is a way to hand content to Put: providers may take a faster path for
// random-access sources (files) than for plain streams, and both must behave alike.
type body struct {
	name string
	wrap func([]byte) io.Reader
}

var bodies = []body{
	{"file", func(b []byte) io.Reader { return bytes.NewReader(b) }}, // io.ReaderAt + io.Seeker, like *os.File
	{"stream", func(b []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(b)} }},
}

func (s *suite) ranges(t *testing.T) {
	p := s.withBucket(t)
	data := randBytes(t, PartSize+12345)
	put(t, p, "r", data, storage.PutOptions{})
	n := int64(len(data))
	for _, rng := range []storage.Range{
		{Offset: 0, Length: 1},
		{Offset: 0, Length: 100},
		{Offset: 10, Length: 0},
		{Offset: 10, Length: 90},
		{Offset: n - 1, Length: 1},
		{Offset: n - 1, Length: 0},
		{Offset: PartSize - 5, Length: 10},
		{Offset: 7, Length: n - 7},
		{Offset: 100, Length: n * 2}, // past the end: truncated
	} {
		end := n
		if rng.Length > 0 && rng.Offset+rng.Length < n {
			end = rng.Offset + rng.Length
		}
		if got := get(t, p, "r", rng); !bytes.Equal(got, data[rng.Offset:end]) {
			t.Fatalf("range %+v: got %d bytes; want %d (bytes %d..%d)", rng, len(got), end-rng.Offset, rng.Offset, end)
		}
	}
	if rc, err := p.Get(t.Context(), "r", storage.Range{Offset: n + 10}); err == nil {
		rc.Close()
		t.Fatal("Get with an offset past the end succeeded; want an error")
	}
	if _, err := p.Get(t.Context(), "r", storage.Range{Offset: -1}); err == nil {
		t.Fatal("Get with a negative offset succeeded; want an error")
	}
	if _, err := p.Get(t.Context(), "missing", storage.Range{}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get missing = %v; want ErrNotFound", err)
	}
}

func (s *suite) head(t *testing.T) {
	p := s.withBucket(t)
	data := []byte("manifest body")
	md := map[string]string{"snapshot": "tag1", "schema_version": "abc-123"}
	put(t, p, "with-sha", data, storage.PutOptions{SHA256: sum(data), Metadata: md, ContentType: "application/json"})
	h, err := p.Head(t.Context(), "with-sha")
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if h.Size != int64(len(data)) || h.SHA256 != sum(data) || h.Metadata["snapshot"] != "tag1" || h.Metadata["schema_version"] != "abc-123" || h.ModTime.IsZero() {
		t.Fatalf("Head = %+v; want size %d, sha256 %s, metadata %v and a modification time", h, len(data), sum(data), md)
	}
	put(t, p, "without-sha", data, storage.PutOptions{})
	if h, err := p.Head(t.Context(), "without-sha"); err != nil || h.SHA256 != "" || h.Size != int64(len(data)) {
		t.Fatalf("Head of an object put without SHA256 = %+v, %v; want size %d and no sha256", h, err, len(data))
	}
	mustNotExist(t, p, "missing")
	mustNotExist(t, p, "with") // a prefix of an existing key is not an object
}

func (s *suite) overwrite(t *testing.T) {
	p := s.withBucket(t)
	put(t, p, "k", []byte("first version"), storage.PutOptions{Metadata: map[string]string{"v": "1"}})
	put(t, p, "k", []byte("second"), storage.PutOptions{})
	if got := get(t, p, "k", storage.Range{}); string(got) != "second" {
		t.Fatalf("after overwrite Get = %q", got)
	}
	if h, err := p.Head(t.Context(), "k"); err != nil || h.Size != 6 || h.Metadata["v"] != "" {
		t.Fatalf("after overwrite Head = %+v, %v; want size 6 and no old metadata", h, err)
	}
}

func (s *suite) checksumMismatch(t *testing.T) {
	p := s.withBucket(t)
	for _, c := range []struct {
		n    int
		body body
	}{{10, bodies[0]}, {10, bodies[1]}, {2*PartSize + 1, bodies[0]}, {2*PartSize + 1, bodies[1]}} {
		n := c.n
		data := randBytes(t, n)
		wrong := sum(append(slices.Clone(data), 'x'))
		key := fmt.Sprintf("bad-%s-%d", c.body.name, n)
		_, err := p.Put(t.Context(), key, c.body.wrap(data), storage.PutOptions{SHA256: wrong})
		if !errors.Is(err, storage.ErrChecksumMismatch) {
			t.Fatalf("Put %d bytes with a wrong SHA256 = %v; want ErrChecksumMismatch", n, err)
		}
		mustNotExist(t, p, key)
		// The right checksum is accepted.
		info := put(t, p, key, data, storage.PutOptions{SHA256: strings.ToUpper(sum(data))})
		if info.SHA256 != sum(data) {
			t.Fatalf("Put with the right SHA256 returned %s", info.SHA256)
		}
		// A failing overwrite keeps the old object.
		if _, err := p.Put(t.Context(), key, bytes.NewReader([]byte("other")), storage.PutOptions{SHA256: wrong}); !errors.Is(err, storage.ErrChecksumMismatch) {
			t.Fatalf("overwrite with a wrong SHA256 = %v; want ErrChecksumMismatch", err)
		}
		if h, err := p.Head(t.Context(), key); err != nil || h.Size != int64(n) {
			t.Fatalf("after a failed overwrite Head = %+v, %v; want the old %d bytes", h, err, n)
		}
	}
}

// badInput checks that every method refuses invalid keys and options, with the same
// error on every backend, and stores nothing.
func (s *suite) badInput(t *testing.T) {
	p := s.withBucket(t)
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "nul\x00key", strings.Repeat("k", 1025)} {
		want := storage.ValidateKey(key).Error()
		if _, err := p.Put(ctx, key, strings.NewReader("x"), storage.PutOptions{}); err == nil || err.Error() != want {
			t.Errorf("Put %q = %v; want %q", key, err, want)
		}
		if _, err := p.Get(ctx, key, storage.Range{}); err == nil || err.Error() != want {
			t.Errorf("Get %q = %v; want %q", key, err, want)
		}
		if _, err := p.Head(ctx, key); err == nil || err.Error() != want {
			t.Errorf("Head %q = %v; want %q", key, err, want)
		}
		if err := p.Delete(ctx, key); err == nil || err.Error() != want {
			t.Errorf("Delete %q = %v; want %q", key, err, want)
		}
		if err := p.Refresh(ctx, key, storage.RefreshOptions{}); err == nil || err.Error() != want {
			t.Errorf("Refresh %q = %v; want %q", key, err, want)
		}
	}
	badPut := storage.PutOptions{SHA256: "xyz"}
	if _, err := p.Put(ctx, "k", strings.NewReader("x"), badPut); err == nil || err.Error() != badPut.Validate().Error() {
		t.Errorf("Put with sha256 xyz = %v; want %v", err, badPut.Validate())
	}
	badRefresh := storage.RefreshOptions{Directive: "MOVE"}
	if err := p.Refresh(ctx, "k", badRefresh); err == nil || err.Error() != badRefresh.Validate().Error() {
		t.Errorf("Refresh with directive MOVE = %v; want %v", err, badRefresh.Validate())
	}
	mustNotExist(t, p, "k")
}

// countingMeter is a storage.Meter that adds up what it is told and checks each report
// against its chunk.
type countingMeter struct {
	chunk int
	n     atomic.Int64
	over  atomic.Int64 // reports larger than chunk
}

func (m *countingMeter) Chunk() int { return m.chunk }

func (m *countingMeter) Moved(ctx context.Context, n int) error {
	m.n.Add(int64(n))
	if n > m.chunk {
		m.over.Add(1)
	}
	return ctx.Err()
}

// meter checks that a Put reports its content to PutOptions.Meter exactly once, in
// chunks no larger than the meter's, whatever the body and the size.
func (s *suite) meter(t *testing.T) {
	p := s.withBucket(t)
	for _, n := range []int{1, 1000, PartSize, 2*PartSize + PartSize/2} {
		for _, body := range bodies {
			t.Run(fmt.Sprintf("%s/%d", body.name, n), func(t *testing.T) {
				data := randBytes(t, n)
				m := &countingMeter{chunk: 4096}
				key := fmt.Sprintf("metered-%s-%d", body.name, n)
				if _, err := p.Put(t.Context(), key, body.wrap(data), storage.PutOptions{Meter: m}); err != nil {
					t.Fatalf("Put: %v", err)
				}
				if m.n.Load() != int64(n) || m.over.Load() != 0 {
					t.Fatalf("meter was told of %d bytes (%d reports over its chunk of %d); want %d bytes, none over", m.n.Load(), m.over.Load(), m.chunk, n)
				}
				if got := get(t, p, key, storage.Range{}); !bytes.Equal(got, data) {
					t.Fatalf("Get returned %d bytes; want the %d put", len(got), n)
				}
			})
		}
	}
	// A meter that fails stops the Put, and nothing is committed.
	stop := errors.New("over budget")
	data := randBytes(t, 2*PartSize+1)
	for _, body := range bodies {
		_, err := p.Put(t.Context(), "metered-stop-"+body.name, body.wrap(data), storage.PutOptions{Meter: failingMeter{stop}})
		if err == nil {
			t.Fatalf("%s: Put with a failing meter succeeded", body.name)
		}
		mustNotExist(t, p, "metered-stop-"+body.name)
	}
}

// failingMeter refuses every byte.
type failingMeter struct{ err error }

func (failingMeter) Chunk() int                         { return 0 }
func (m failingMeter) Moved(context.Context, int) error { return m.err }

// failingReader yields n random bytes, then an error.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(b), f.n)
	f.n -= k
	return k, nil
}

func (s *suite) readerError(t *testing.T) {
	p := s.withBucket(t)
	boom := errors.New("disk read failed")
	for _, n := range []int{3, PartSize + 3, 2*PartSize + 3} {
		key := fmt.Sprintf("broken-%d", n)
		_, err := p.Put(t.Context(), key, &failingReader{n: n, err: boom}, storage.PutOptions{})
		if !errors.Is(err, boom) {
			t.Fatalf("Put from a reader failing after %d bytes = %v; want its error", n, err)
		}
		mustNotExist(t, p, key)
	}
}

func (s *suite) putMissingBucket(t *testing.T) {
	p := s.open(t, s.newBucket(t))
	_, err := p.Put(t.Context(), "k", strings.NewReader("x"), storage.PutOptions{})
	if !errors.Is(err, storage.ErrBucketNotFound) {
		t.Fatalf("Put into a missing bucket = %v; want ErrBucketNotFound", err)
	}
}

func (s *suite) list(t *testing.T) {
	ctx := t.Context()
	p := s.withBucket(t)
	want := []string{}
	for i := range 7 {
		k := fmt.Sprintf("c/dc1/node1/data/ks/t/%d-big-Data.db", i)
		put(t, p, k, []byte(k), storage.PutOptions{})
		want = append(want, k)
	}
	k := "c/dc1/node1/manifests/tag-1.json"
	put(t, p, k, []byte("m"), storage.PutOptions{})
	want = append(want, k)
	put(t, p, "c/dc1/node10/data/x", []byte("other node"), storage.PutOptions{})
	put(t, p, "c/dc1/node1x", []byte("sibling key sharing the prefix without its slash"), storage.PutOptions{})
	put(t, p, "topology/c-tag-1-topology.json", []byte("t"), storage.PutOptions{})

	collect := func(prefix string) []string {
		var got []string
		for info, err := range p.List(ctx, prefix) {
			if err != nil {
				t.Fatalf("List %q: %v", prefix, err)
			}
			if info.Size != int64(len(info.Key)) && strings.Contains(info.Key, "/data/ks/") {
				t.Fatalf("List %q: %s has size %d; want %d", prefix, info.Key, info.Size, len(info.Key))
			}
			got = append(got, info.Key)
		}
		slices.Sort(got)
		return got
	}
	slices.Sort(want)
	if got := collect("c/dc1/node1/"); !slices.Equal(got, want) {
		t.Fatalf("List c/dc1/node1/ (page size %d) =\n%q\nwant\n%q", ListPageSize, got, want)
	}
	if got := collect("c/dc1/node1/manifests/"); !slices.Equal(got, []string{k}) {
		t.Fatalf("List manifests = %q", got)
	}
	if got := collect("c/dc1/node1/data/ks/t/1"); !slices.Equal(got, []string{"c/dc1/node1/data/ks/t/1-big-Data.db"}) {
		t.Fatalf("List by a partial name = %q", got)
	}
	if got := collect("nothing/here/"); len(got) != 0 {
		t.Fatalf("List of an empty prefix = %q", got)
	}
	if got := collect(""); len(got) != len(want)+3 {
		t.Fatalf("List of the whole bucket has %d keys; want %d: %q", len(got), len(want)+3, got)
	}
	// Stopping early is honoured.
	n := 0
	for _, err := range p.List(ctx, "c/") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Fatalf("early break saw %d objects", n)
	}
}

func (s *suite) delete(t *testing.T) {
	p := s.withBucket(t)
	put(t, p, "a/b/c", []byte("x"), storage.PutOptions{Metadata: map[string]string{"m": "1"}})
	put(t, p, "a/b/d", []byte("y"), storage.PutOptions{})
	if err := p.Delete(t.Context(), "a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotExist(t, p, "a/b/c")
	if got := get(t, p, "a/b/d", storage.Range{}); string(got) != "y" {
		t.Fatalf("sibling after Delete = %q", got)
	}
	if err := p.Delete(t.Context(), "a/b/c"); err != nil {
		t.Fatalf("Delete of a missing key = %v; want nil", err)
	}
	// A deleted key can be written again, without its old metadata.
	put(t, p, "a/b/c", []byte("z"), storage.PutOptions{})
	if h, err := p.Head(t.Context(), "a/b/c"); err != nil || h.Metadata["m"] != "" {
		t.Fatalf("re-put after Delete Head = %+v, %v", h, err)
	}
}

func (s *suite) refresh(t *testing.T) {
	ctx := t.Context()
	p := s.withBucket(t)
	data := randBytes(t, 1000)
	md := map[string]string{"snapshot": "tag1"}
	put(t, p, "obj", data, storage.PutOptions{SHA256: sum(data), Metadata: md})

	if err := p.Refresh(ctx, "obj", storage.RefreshOptions{}); err != nil {
		t.Fatalf("Refresh (COPY by default): %v", err)
	}
	h1, err := p.Head(ctx, "obj")
	if err != nil {
		t.Fatal(err)
	}
	if h1.Metadata["snapshot"] != "tag1" || h1.SHA256 != sum(data) || h1.Metadata[storage.MetaRefreshed] == "" || h1.Size != 1000 {
		t.Fatalf("after Refresh COPY Head = %+v; want the old metadata, sha256 and a %s stamp", h1, storage.MetaRefreshed)
	}
	// A second COPY refresh is legal too (S3 rejects a self-copy that changes nothing).
	if err := p.Refresh(ctx, "obj", storage.RefreshOptions{Directive: storage.MetadataCopy}); err != nil {
		t.Fatalf("second Refresh COPY: %v", err)
	}
	h2, _ := p.Head(ctx, "obj")
	if h2.Metadata[storage.MetaRefreshed] == h1.Metadata[storage.MetaRefreshed] {
		t.Fatalf("second Refresh did not change the %s stamp (%s)", storage.MetaRefreshed, h2.Metadata[storage.MetaRefreshed])
	}
	if err := p.Refresh(ctx, "obj", storage.RefreshOptions{Directive: storage.MetadataReplace, Metadata: map[string]string{"owner": "backup2"}}); err != nil {
		t.Fatalf("Refresh REPLACE: %v", err)
	}
	h3, _ := p.Head(ctx, "obj")
	if h3.Metadata["owner"] != "backup2" || h3.Metadata["snapshot"] != "" || h3.Metadata[storage.MetaRefreshed] == "" {
		t.Fatalf("after Refresh REPLACE metadata = %v; want owner=backup2, no snapshot, a stamp", h3.Metadata)
	}
	if got := get(t, p, "obj", storage.Range{}); !bytes.Equal(got, data) {
		t.Fatal("Refresh changed the content")
	}
	if err := p.Refresh(ctx, "missing", storage.RefreshOptions{}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Refresh of a missing key = %v; want ErrNotFound", err)
	}
	if err := p.Refresh(ctx, "obj", storage.RefreshOptions{Directive: "MOVE"}); err == nil {
		t.Fatal("Refresh with directive MOVE succeeded")
	}
}

func (s *suite) concurrent(t *testing.T) {
	p := s.withBucket(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	datas := make([][]byte, 8)
	for i := range datas {
		datas[i] = randBytes(t, PartSize+i*1000)
	}
	for i := range datas {
		wg.Go(func() {
			info, err := p.Put(t.Context(), fmt.Sprintf("par/%d", i), bytes.NewReader(datas[i]), storage.PutOptions{})
			if err == nil && info.SHA256 != sum(datas[i]) {
				err = fmt.Errorf("sha256 %s; want %s", info.SHA256, sum(datas[i]))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Put %d: %v", i, err)
		}
		if got := get(t, p, fmt.Sprintf("par/%d", i), storage.Range{}); !bytes.Equal(got, datas[i]) {
			t.Fatalf("concurrent Put %d: content differs", i)
		}
	}
}

func (s *suite) perOperation(t *testing.T) {
	var calls atomic.Int64
	creds := storage.NewCredentials(s.target.Credentials)
	src := storage.CredentialSourceFunc(func(context.Context) (storage.Credentials, error) {
		calls.Add(1)
		return creds, nil
	})
	p := s.target.Open(t, s.newBucket(t), src)
	ctx := t.Context()
	base := calls.Load()
	ops := []func() error{
		func() error { return p.CreateBucket(ctx) },
		func() error { _, err := p.Put(ctx, "k", strings.NewReader("v"), storage.PutOptions{}); return err },
		func() error { _, err := p.Head(ctx, "k"); return err },
		func() error {
			rc, err := p.Get(ctx, "k", storage.Range{})
			if err == nil {
				rc.Close()
			}
			return err
		},
		func() error {
			for _, err := range p.List(ctx, "") {
				return err
			}
			return nil
		},
		func() error { return p.Refresh(ctx, "k", storage.RefreshOptions{}) },
		func() error { return p.Delete(ctx, "k") },
		func() error { _, err := p.BucketExists(ctx); return err },
	}
	for i, op := range ops {
		before := calls.Load()
		if err := op(); err != nil {
			t.Fatalf("operation %d: %v", i, err)
		}
		if calls.Load() == before {
			t.Fatalf("operation %d did not resolve credentials", i)
		}
	}
	if calls.Load()-base < int64(len(ops)) {
		t.Fatalf("%d operations resolved credentials %d times", len(ops), calls.Load()-base)
	}
	// The Secret disappears after Open: the next operation reports it.
	var deleted atomic.Bool
	failing := storage.CredentialSourceFunc(func(context.Context) (storage.Credentials, error) {
		if deleted.Load() {
			return storage.Credentials{}, errors.New("secret cloud-backup-secrets not found")
		}
		return creds, nil
	})
	p2 := s.target.Open(t, p.Bucket(), failing)
	deleted.Store(true)
	if _, err := p2.Head(ctx, "k"); err == nil || !strings.Contains(err.Error(), "cloud-backup-secrets not found") {
		t.Fatalf("Head with a failing credential source = %v; want its error", err)
	}
}

func (s *suite) rotation(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	current := s.target.Credentials
	src := storage.CredentialSourceFunc(func(context.Context) (storage.Credentials, error) {
		mu.Lock()
		defer mu.Unlock()
		return storage.NewCredentials(current), nil
	})
	set := func(d map[string][]byte) { mu.Lock(); current = d; mu.Unlock() }
	p := s.target.Open(t, s.newBucket(t), src)
	if err := p.CreateBucket(ctx); err != nil {
		t.Fatalf("CreateBucket with good credentials: %v", err)
	}
	put(t, p, "k", []byte("v"), storage.PutOptions{})

	set(s.target.BadCredentials)
	_, err := p.Head(ctx, "k")
	if err == nil {
		t.Fatal("Head after rotating to wrong credentials succeeded")
	}
	_, perr := p.Put(ctx, "k2", strings.NewReader("v"), storage.PutOptions{})
	if perr == nil {
		t.Fatal("Put after rotating to wrong credentials succeeded")
	}
	for _, e := range []error{err, perr} {
		for _, d := range []map[string][]byte{s.target.Credentials, s.target.BadCredentials} {
			for _, k := range []string{storage.KeyAWSAccessKeyID, storage.KeyAWSSecretAccessKey, storage.KeyAzureStorageKey, storage.KeyGCP} {
				if v := d[k]; len(v) > 0 && strings.Contains(e.Error(), string(v)) {
					t.Fatalf("error reveals the value of %s", k)
				}
			}
		}
	}
	set(s.target.Credentials)
	if got := get(t, p, "k", storage.Range{}); string(got) != "v" {
		t.Fatalf("Get after rotating back = %q", got)
	}
}
