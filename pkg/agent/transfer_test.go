package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/time/rate"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// A file's meter counts at most the file's size, however often a retried part is sent,
// and asks the limiter for no more than its burst.
func TestFileMeter(t *testing.T) {
	var tr Tracker
	tr.AddTotal(1, 10_000)
	m := newFileMeter(nil, &tr, 10_000)
	if m.Chunk() != 0 {
		t.Fatalf("Chunk without a cap = %d; want 0", m.Chunk())
	}
	for range 3 { // a part of 4,000 bytes sent three times, then the rest
		if err := m.Moved(t.Context(), 4_000); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Moved(t.Context(), 6_000); err != nil {
		t.Fatal(err)
	}
	if s := tr.Snapshot(); s.BytesTransferred != 10_000 || s.Progress() != 1 {
		t.Fatalf("after 18,000 bytes reported for a 10,000-byte file: transferred %d, progress %v; want 10,000 and 1", s.BytesTransferred, s.Progress())
	}

	lim := rate.NewLimiter(rate.Limit(1000), 1000)
	capped := newFileMeter(lim, &tr, 5_000)
	if capped.Chunk() != 1000 {
		t.Fatalf("Chunk with a 1,000 B/s cap = %d; want its burst, 1000", capped.Chunk())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := capped.Moved(ctx, 1000); !errors.Is(err, context.Canceled) {
		t.Fatalf("Moved after cancel = %v; want context.Canceled", err)
	}
}

// eachFile calls eachItem with the indices below n.
func eachFile(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	return eachItem(ctx, workers, func(yield func(int) error) error {
		for i := range n {
			if err := yield(i); err != nil {
				return err
			}
		}
		return nil
	}, fn)
}

// eachItem calls fn once for every item, never from more than the given number of
// goroutines at a time, and stops handing out items after the first error, which it returns.
func TestEachItem(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	var running, peak atomic.Int32
	err := eachFile(t.Context(), 200, 4, func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		mu.Lock()
		seen[i]++
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 200 || peak.Load() > 4 || peak.Load() < 1 {
		t.Fatalf("%d indices seen, %d at most at once; want 200 and 1..4", len(seen), peak.Load())
	}
	for i, n := range seen {
		if n != 1 || i < 0 || i >= 200 {
			t.Fatalf("index %d called %d times", i, n)
		}
	}

	boom := errors.New("boom")
	var calls atomic.Int32
	err = eachFile(t.Context(), 1000, 2, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 3 {
			return boom
		}
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v; want boom", err)
	}
	if c := calls.Load(); c > 10 {
		t.Fatalf("%d calls after an error at index 3; want the loop to stop", c)
	}
	if err := eachFile(t.Context(), 0, 16, func(context.Context, int) error { return boom }); err != nil {
		t.Fatalf("no files: err = %v", err)
	}

	// Canceled between two calls that both succeed: the loop is not complete.
	ctx, cancel := context.WithCancel(t.Context())
	calls.Store(0)
	err = eachFile(ctx, 100, 1, func(_ context.Context, i int) error {
		calls.Add(1)
		if i == 4 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls.Load() != 5 {
		t.Fatalf("canceled after 5 of 100 calls: err = %v after %d calls; want context.Canceled after 5", err, calls.Load())
	}
}

// writeCounter records the size of each write.
type writeCounter struct {
	bytes.Buffer
	sizes []int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// copyFull writes whole buffers although its reader returns a byte at a time, hashes what
// it writes, and passes a reader's error on instead of taking a cut-off body for its end.
func TestCopyFull(t *testing.T) {
	data := bytes.Repeat([]byte("sstable!"), 1000) // 8000 bytes
	var w writeCounter
	h := sha256.New()
	n, err := copyFull(&w, h, iotest.OneByteReader(bytes.NewReader(data)), make([]byte, 3000))
	if err != nil || n != 8000 {
		t.Fatalf("copyFull = %d, %v; want 8000, nil", n, err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(w.Bytes(), data) || !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatal("copied or hashed bytes differ from the source")
	}
	if want := []int{3000, 3000, 2000}; len(w.sizes) != 3 || w.sizes[0] != want[0] || w.sizes[1] != want[1] || w.sizes[2] != want[2] {
		t.Fatalf("write sizes %v; want %v", w.sizes, want)
	}

	cut := io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(io.ErrUnexpectedEOF))
	if n, err := copyFull(io.Discard, sha256.New(), cut, make([]byte, 3000)); !errors.Is(err, io.ErrUnexpectedEOF) || n != 100 {
		t.Fatalf("cut-off body: copyFull = %d, %v; want 100, unexpected EOF", n, err)
	}
}

// The write-back closes every file it is handed, and reports a close that fails.
func TestWriteback(t *testing.T) {
	dir := t.TempDir()
	wb := startWriteback()
	var files []*os.File
	for i := range 100 { // more than the queue holds
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("data"); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		wb.add(f)
	}
	if err := wb.wait(); err != nil {
		t.Fatalf("wait = %v; want nil", err)
	}
	for _, f := range files {
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("%s still open after wait (Close = %v)", f.Name(), err)
		}
	}

	wb = startWriteback()
	closed := files[0] // closing it again fails
	wb.add(closed)
	if err := wb.wait(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("wait after a failed close = %v; want os.ErrClosed", err)
	}
}

// TestRetryFile: a file whose transfer fails transiently is tried again inside the
// operation; a missing object or local file is not.
func TestRetryFile(t *testing.T) {
	defer func(d time.Duration) { fileBackoff = d }(fileBackoff)
	fileBackoff = time.Millisecond
	flaky := errors.New("connection reset by peer")
	for _, c := range []struct {
		name      string
		errs      []error
		wantCalls int
		wantErr   error
	}{
		{"heals on the second try", []error{flaky}, 2, nil},
		{"heals on the last try", []error{flaky, flaky}, 3, nil},
		{"fails every try", []error{flaky, flaky, flaky, flaky}, fileAttempts, flaky},
		{"missing object", []error{fmt.Errorf("download x: %w", storage.ErrNotFound)}, 1, storage.ErrNotFound},
		{"missing local file", []error{fmt.Errorf("open: %w", fs.ErrNotExist)}, 1, fs.ErrNotExist},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := retryFile(t.Context(), nil, func(context.Context) error {
				calls++
				if calls <= len(c.errs) {
					return c.errs[calls-1]
				}
				return nil
			})
			if calls != c.wantCalls || !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Errorf("%d calls, error %v; want %d calls, error %v", calls, err, c.wantCalls, c.wantErr)
			}
		})
	}
}

// dirSet creates a directory once: a directory removed behind its back is not made again
// (each later file of the directory costs no system call), and a directory it cannot make
// is an error every time, never remembered as made.
func TestDirSet(t *testing.T) {
	root := t.TempDir()
	var d dirSet
	dir := filepath.Join(root, "ks", "table-1")
	if err := d.make(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("after make: %v, %v", fi, err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := d.make(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("make of a directory already made: stat = %v, want it not made again", err)
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.make(filepath.Join(file, "sub")); err == nil {
			t.Fatal("make under a regular file: nil error")
		}
	}
}
