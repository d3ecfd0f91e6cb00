package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
)

// watchedProvider is a file provider whose Get records what dst holds when the object's
// body is first read, and can cut the body short.
type watchedProvider struct {
	storage.Provider
	dst    string
	gets   int
	during []byte // dst's content at the first read; nil when dst did not exist
	cutAt  int    // > 0: the body fails after this many bytes
}

func (w *watchedProvider) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, error) {
	w.gets++
	r, err := w.Provider.Get(ctx, key, rng)
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(w.dst); err == nil {
		w.during = b
	}
	if w.cutAt > 0 {
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(io.LimitReader(r, int64(w.cutAt)), iotest.ErrReader(io.ErrUnexpectedEOF)), r}, nil
	}
	return r, nil
}

// downloadFile writes a new file in place (it exists, empty, while the body streams in),
// keeps an identical file without a GET, replaces a partial one whole (the old content
// stays under the final name until the new one is verified), and a body cut short or a
// wrong hash leaves no file behind and no temporary.
func TestDownloadFileInPlace(t *testing.T) {
	ctx := context.Background()
	body := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640,000 bytes: several buffers
	p := objectBucket(t, body)
	e := layout.Entry{ObjectKey: "data/ks/t/1/nb-1-big-Data.db", Size: int64(len(body)), Hash: sha256Hex(body)}
	for _, c := range []struct {
		name     string
		existing []byte // dst before; nil: none
		cutAt    int
		entry    layout.Entry
		gets     int
		during   []byte // dst's content while the body streams; nil: absent
		wantErr  string
		want     []byte // dst after; nil: absent
	}{
		{name: "new file", entry: e, gets: 1, during: []byte{}, want: body},
		{name: "identical file", existing: body, entry: e, gets: 0, want: body},
		{name: "partial file", existing: body[:1000], entry: e, gets: 1, during: body[:1000], want: body},
		{name: "new file, body cut short", cutAt: 300_000, entry: e, gets: 1, during: []byte{}, wantErr: "unexpected EOF"},
		{name: "new file, wrong hash", entry: layout.Entry{ObjectKey: e.ObjectKey, Size: e.Size, Hash: sha256Hex(nil)}, gets: 1, during: []byte{}, wantErr: "the object is corrupt"},
		{name: "partial file, body cut short", existing: body[:1000], cutAt: 300_000, entry: e, gets: 1, during: body[:1000], wantErr: "unexpected EOF", want: body[:1000]},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ks", "t-1")
			dst := filepath.Join(dir, "nb-1-big-Data.db")
			if c.existing != nil {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, c.existing, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			w := &watchedProvider{Provider: p, dst: dst, cutAt: c.cutAt}
			wb := startWriteback()
			err := downloadFile(ctx, w, "obj", dst, c.entry, nil, &Tracker{}, wb, &dirSet{})
			if werr := wb.wait(); werr != nil {
				t.Fatal(werr)
			}
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("downloadFile = %v, want error %q", err, c.wantErr)
			}
			if w.gets != c.gets || (c.during == nil) != (w.during == nil) || !bytes.Equal(w.during, c.during) {
				t.Errorf("%d GETs, dst held %d bytes (nil: %t) while streaming; want %d GETs, %d bytes (nil: %t)", w.gets, len(w.during), w.during == nil, c.gets, len(c.during), c.during == nil)
			}
			got, rerr := os.ReadFile(dst)
			switch {
			case c.want == nil && !errors.Is(rerr, os.ErrNotExist):
				t.Errorf("dst after: %d bytes, %v; want none", len(got), rerr)
			case c.want != nil && !bytes.Equal(got, c.want):
				t.Errorf("dst after: %d bytes, %v; want %d", len(got), rerr, len(c.want))
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".restore-*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// objectBucket returns a file:// bucket that holds body as the object "obj".
func objectBucket(t *testing.T, body []byte) storage.Provider {
	t.Helper()
	ctx := context.Background()
	p, err := file.Open(ctx, storage.Location{Scheme: storage.SchemeFile, Dir: t.TempDir(), Bucket: "b"}, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Put(ctx, "obj", bytes.NewReader(body), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// downloadFile writes a file under its final name only whole and verified: an object
// shorter than the manifest says, or with other bytes, fails and leaves neither the file
// nor its temporary behind; a good one lands in a directory made on the way.
func TestDownloadFileVerifies(t *testing.T) {
	ctx := context.Background()
	body := bytes.Repeat([]byte("sstable "), 100_000)
	p := objectBucket(t, body)
	good := layout.Entry{ObjectKey: "data/ks/t/1/nb-1-big-Data.db", Size: int64(len(body)), Hash: sha256Hex(body)}
	for _, c := range []struct {
		name string
		e    layout.Entry
		want string // in the error; "" for success
	}{
		{"short object", layout.Entry{ObjectKey: good.ObjectKey, Size: good.Size + 1, Hash: good.Hash}, "got 800000 bytes, manifest says 800001"},
		{"other bytes", layout.Entry{ObjectKey: good.ObjectKey, Size: good.Size, Hash: sha256Hex([]byte("x"))}, "the object is corrupt"},
		{"good", good, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data", "ks", "t-1")
			dst := filepath.Join(dir, "nb-1-big-Data.db")
			wb := startWriteback()
			tr := &Tracker{}
			err := downloadFile(ctx, p, "obj", dst, c.e, nil, tr, wb, &dirSet{})
			if werr := wb.wait(); werr != nil {
				t.Fatal(werr)
			}
			if c.want == "" {
				got, rerr := os.ReadFile(dst)
				if err != nil || rerr != nil || !bytes.Equal(got, body) || tr.Snapshot().FilesTransferred != 1 {
					t.Fatalf("downloadFile = %v; file: %d bytes, %v; transfer %+v", err, len(got), rerr, tr.Snapshot())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("downloadFile = %v, want an error with %q", err, c.want)
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 0 {
				t.Fatalf("left behind after a failed download: %v", left)
			}
		})
	}
}

// residentPages returns how many of the file's pages are in the page cache (mincore).
func residentPages(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// The write-back leaves a restored file's pages out of the page cache once they are on
// disk: a restore of terabytes through an init container with a memory limit must not
// make the kernel reclaim its own page cache for every write.
func TestWritebackDropsPages(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is on tmpfs (or statfs failed: %v): its pages are the file", dir, err)
	}
	path := filepath.Join(dir, "nb-1-big-Data.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("sstable!"), 1<<17)); err != nil { // 1 MiB
		t.Fatal(err)
	}
	if n := residentPages(t, path); n == 0 {
		t.Fatal("a file just written has no page in the cache: the test cannot tell")
	}
	wb := startWriteback()
	wb.add(f)
	if err := wb.wait(); err != nil {
		t.Fatal(err)
	}
	if n := residentPages(t, path); n != 0 {
		t.Errorf("%d pages of the written-out file still cached, want 0", n)
	}
}
