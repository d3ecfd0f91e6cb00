package agent

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// download fetches every file of the list into its local path, largest first (a big file
// started last would leave the other connections idle).
func download(ctx context.Context, p storage.Provider, node layout.Node, l *restoreList, concurrency int, lim *rate.Limiter, tr *Tracker) error {
	return downloadAll(ctx, p, []layout.Node{node}, []*restoreList{l}, concurrency, lim, tr)
}

// downloadAll fetches every file of each node's list (lists[i] is nodes[i]'s) through one
// pool of workers: the next node's files start while the last of the previous node's are
// still in flight, as one node's would.
func downloadAll(ctx context.Context, p storage.Provider, nodes []layout.Node, lists []*restoreList, concurrency int, lim *rate.Limiter, tr *Tracker) error {
	for _, l := range lists {
		if err := l.each(func(e layout.Entry, _ string) error { tr.AddTotal(1, e.Size); return nil }); err != nil {
			return err
		}
	}
	type job struct {
		e    layout.Entry
		path string
		node layout.Node
	}
	wb := startWriteback()
	dirs := &dirSet{}
	err := eachItem(ctx, concurrency, func(yield func(job) error) error {
		for i, l := range lists {
			if err := l.each(func(e layout.Entry, path string) error { return yield(job{e, path, nodes[i]}) }); err != nil {
				return err
			}
		}
		return nil
	}, func(ctx context.Context, j job) error {
		return retryFile(ctx, tr, func(ctx context.Context) error {
			return downloadFile(ctx, p, j.node.Key(j.e.ObjectKey), j.path, j.e, lim, tr, wb, dirs)
		})
	})
	return errors.Join(err, wb.wait())
}

// writeback writes downloaded files out from goroutines of its own, waits for each and
// drops its pages from the page cache, so that downloads wait for the disk only when 64
// files are behind, the one sync before the marker finds little left to write, and the
// restore does not fill memory (its pod's memory cgroup included) with data it will not
// read again. It closes the files it is given.
type writeback struct {
	files chan *os.File
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error // the first close error
}

// writebackWorkers start write-outs side by side: one large file's would hold up the
// small files behind it (3 instead of 1: restore 6 % faster here).
const writebackWorkers = 3

func startWriteback() *writeback {
	w := &writeback{files: make(chan *os.File, 64)}
	for range writebackWorkers {
		w.wg.Go(func() {
			for f := range w.files {
				// Hints only: that sync is what makes the data durable. Once written out,
				// the file's pages leave the page cache, so that the next files' writes
				// find free memory instead of reclaiming it.
				fd := int(f.Fd())
				if unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER) == nil {
					_ = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
				}
				if err := f.Close(); err != nil {
					w.mu.Lock()
					w.err = cmp.Or(w.err, err)
					w.mu.Unlock()
				}
			}
		})
	}
	return w
}

// add hands over a complete file; it waits while 64 are queued (the disk is behind).
func (w *writeback) add(f *os.File) { w.files <- f }

// wait returns once every file handed over is closed, with the first close error.
func (w *writeback) wait() error {
	close(w.files)
	w.wg.Wait()
	return w.err
}

// copyBuffers hold the buffers downloads copy through: 256 KiB a read and a write
// instead of io.Copy's 32 KiB.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyFull copies r to w and h through buf, filling buf before each write: a socket read
// returns what has arrived, often a fraction of buf, and each write costs a system call.
func copyFull(w io.Writer, h hash.Hash, r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := 0, error(nil)
		for k < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[k:])
			k += m
		}
		if k > 0 {
			h.Write(buf[:k])
			if _, werr := w.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// downloadFile fetches one object into dst and checks its size and SHA-256. A new file is
// written under its final name (one openat with O_EXCL, no stat, no rename): until the
// marker is written, every file the list names is verified again by a resumed restore,
// and a failed try removes what it wrote. A dst that already exists is kept when it
// has the right content, and otherwise replaced whole through a temporary name.
func downloadFile(ctx context.Context, p storage.Provider, key, dst string, e layout.Entry, lim *rate.Limiter, tr *Tracker, wb *writeback, dirs *dirSet) error {
	if err := dirs.make(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("download %s: %w", e.ObjectKey, err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if fi, err := os.Stat(dst); err == nil && fi.Size() == e.Size {
			if sum, _, err := fileSHA256(dst); err == nil && sum == e.Hash {
				tr.Skipped(e.Size)
				return nil
			}
		}
		f, err = os.CreateTemp(filepath.Dir(dst), ".restore-*.tmp")
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", e.ObjectKey, err)
	}
	if err := fetch(ctx, p, key, f, e, lim, tr); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("download %s: %w", e.ObjectKey, err)
	}
	if f.Name() != dst {
		if err := os.Rename(f.Name(), dst); err != nil {
			f.Close()
			os.Remove(f.Name())
			return fmt.Errorf("download %s: %w", e.ObjectKey, err)
		}
	}
	wb.add(f)
	tr.FileDone()
	return nil
}

// fetch streams the object at key into f, hashing it on the way, and checks it against
// the manifest's size and SHA-256.
func fetch(ctx context.Context, p storage.Provider, key string, f *os.File, e layout.Entry, lim *rate.Limiter, tr *Tracker) error {
	r, err := p.Get(ctx, key, storage.Range{})
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	buf := copyBuffers.Get().(*[]byte)
	n, err := copyFull(f, h, storage.MeteredReader(ctx, r, newFileMeter(lim, tr, e.Size)), *buf)
	copyBuffers.Put(buf)
	if err != nil {
		return err
	}
	if n != e.Size {
		return fmt.Errorf("got %d bytes, manifest says %d: the object is corrupt", n, e.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != e.Hash {
		return fmt.Errorf("sha256 %s, manifest says %s: the object is corrupt", sum, e.Hash)
	}
	return nil
}
