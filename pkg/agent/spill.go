package agent

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// spillRunBytes is how many bytes of records a spill holds in memory before it sorts them
// and writes them out as a run: what bounds the agent's memory whatever the node's file
// count (a million files make about 40 runs of a listing).
var spillRunBytes = 8 << 20

// spill sorts records of any number by their bytes (bytes.Compare) with bounded memory:
// records are gathered in memory up to spillRunBytes, sorted, and written to a run file
// in dir; Each merges the runs. It is not safe for concurrent use.
type spill struct {
	dir   string
	recs  [][]byte
	size  int
	runs  []*os.File
	count int
}

func newSpill(dir string) *spill { return &spill{dir: dir} }

// Add adds a copy of rec.
func (s *spill) Add(rec []byte) error {
	s.recs = append(s.recs, bytes.Clone(rec))
	s.size += len(rec) + 24
	s.count++
	if s.size >= spillRunBytes {
		return s.flush()
	}
	return nil
}

// Len returns the number of records added.
func (s *spill) Len() int { return s.count }

// flush writes the records in memory out as a sorted run.
func (s *spill) flush() error {
	slices.SortFunc(s.recs, bytes.Compare)
	f, err := os.CreateTemp(s.dir, "run-*")
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	s.runs = append(s.runs, f)
	w := bufio.NewWriterSize(f, 64<<10)
	var n [binary.MaxVarintLen64]byte
	for _, r := range s.recs {
		w.Write(n[:binary.PutUvarint(n[:], uint64(len(r)))])
		w.Write(r)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	clear(s.recs)
	s.recs, s.size = s.recs[:0], 0
	return nil
}

// Each calls fn with every record in order; rec is valid until fn returns. Records still
// in memory are merged with the runs on disk.
func (s *spill) Each(fn func(rec []byte) error) error {
	if len(s.runs) > 0 && len(s.recs) > 0 {
		if err := s.flush(); err != nil {
			return err
		}
	}
	if len(s.runs) == 0 {
		slices.SortFunc(s.recs, bytes.Compare)
		for _, r := range s.recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
	var h runHeap
	for _, f := range s.runs {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		r := &runReader{r: bufio.NewReaderSize(f, 64<<10)}
		if ok, err := r.next(); err != nil {
			return err
		} else if ok {
			h = append(h, r)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		r := h[0]
		if err := fn(r.rec); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// Close removes the runs.
func (s *spill) Close() {
	for _, f := range s.runs {
		f.Close()
		os.Remove(f.Name())
	}
	s.runs, s.recs = nil, nil
}

// runReader reads one run's records back.
type runReader struct {
	r   *bufio.Reader
	rec []byte
}

func (r *runReader) next() (bool, error) {
	n, err := binary.ReadUvarint(r.r)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("spill: %w", err)
	}
	if uint64(cap(r.rec)) < n {
		r.rec = make([]byte, n)
	}
	r.rec = r.rec[:n]
	if _, err := io.ReadFull(r.r, r.rec); err != nil {
		return false, fmt.Errorf("spill: %w", err)
	}
	return true, nil
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].rec, h[j].rec) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Record fields are joined by NUL, which neither a path nor an object key holds.
const sep = 0

// record joins fields into a record.
func record(fields ...string) []byte {
	n := len(fields)
	for _, f := range fields {
		n += len(f)
	}
	b := make([]byte, 0, n)
	for i, f := range fields {
		if i > 0 {
			b = append(b, sep)
		}
		b = append(b, f...)
	}
	return b
}

// fields splits a record made by record into its n fields; missing ones are empty.
func fields(rec []byte, n int) []string {
	out := make([]string, n)
	for i := range n {
		j := bytes.IndexByte(rec, sep)
		if j < 0 || i == n-1 {
			out[i] = string(rec)
			break
		}
		out[i], rec = string(rec[:j]), rec[j+1:]
	}
	return out
}

// sizeDesc is a sort key that orders larger sizes first.
func sizeDesc(size int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ^uint64(size))
	return string(b[:])
}

// removeSpills removes the spill directories left in dir by a process that was killed.
func removeSpills(dir string) error {
	left, _ := filepath.Glob(filepath.Join(dir, spillPrefix+"*"))
	for _, d := range left {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove leftover file lists: %w", err)
		}
	}
	return nil
}

const spillPrefix = ".cbk-spill-"

// spillDir makes a temporary directory for spills in the first of dirs that takes one.
func spillDir(dirs ...string) (string, error) {
	var errs []error
	for _, d := range dirs {
		p, err := os.MkdirTemp(d, spillPrefix)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no directory for the file lists: %w", errors.Join(errs...))
}
