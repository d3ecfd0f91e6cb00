package layout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// scanFiles returns the entries ScanManifest yields from data, sorted by object key.
func scanFiles(data []byte) ([]File, error) {
	var out []File
	_, err := ScanManifest(bytes.NewReader(data), func(f File) error {
		out = append(out, f)
		return nil
	})
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.ObjectKey, b.ObjectKey) })
	return out, err
}

// sampleManifest is a manifest of two keyspaces, three tables (one without files) and an
// index SSTable, built with Manifest's own methods.
func sampleManifest() *Manifest {
	m := &Manifest{Tokens: []string{"-9", "12"}, SchemaVersion: sv}
	m.Snapshot.Name = "tag1"
	id2 := strings.Repeat("ab", 16)
	m.SetSchema("ks", "t", tid, "CREATE TABLE ks.t (id int PRIMARY KEY)")
	m.SetSchema("ks", "u", id2, "")
	m.SetSchema("ks2", "t", tid, "CREATE TABLE ks2.t (id int PRIMARY KEY)")
	for i, k := range []struct{ ks, t, id, ss, key string }{
		{"ks", "t", tid, "nb-2-big", "data/ks/t-" + tid + "/2-1/nb-2-big-Data.db"},
		{"ks", "t", tid, "nb-2-big", "data/ks/t-" + tid + "/2-1/nb-2-big-Index.db"},
		{"ks", "t", tid, ".idx/nb-3-big", "data/ks/t-" + tid + "/.idx/3-7/nb-3-big-Data.db"},
		{"ks2", "t", tid, "nb-1-big", "data/ks2/t-" + tid + "/1-5/nb-1-big-Data.db"},
	} {
		m.Add(k.ks, k.t, k.id, k.ss, Entry{ObjectKey: k.key, Type: TypeFile, Size: int64(i), Hash: hash})
	}
	return m
}

// TestScanManifestReadsManifest checks that the streaming reader yields exactly the entries
// of a manifest Manifest encodes, and of an Esop manifest (the format older backups hold).
func TestScanManifestReadsManifest(t *testing.T) {
	m := sampleManifest()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range [][]byte{data, []byte(esopManifest)} {
		want, err := DecodeManifest(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := scanFiles(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want.Files()) {
			t.Errorf("ScanManifest = %+v\nwant %+v", got, want.Files())
		}
		h, _ := ScanManifest(bytes.NewReader(doc), func(File) error { return nil })
		if h.Name != want.Snapshot.Name || h.SchemaVersion != want.SchemaVersion || !reflect.DeepEqual(h.Tokens, want.Tokens) {
			t.Errorf("header %+v", h)
		}
	}
}

// TestManifestWriterRoundTrip checks that what ManifestWriter writes decodes (with
// DecodeManifest, the reader of every earlier version) to the manifest it was given.
func TestManifestWriterRoundTrip(t *testing.T) {
	m := sampleManifest()
	var buf bytes.Buffer
	w := NewManifestWriter(&buf, m.Snapshot.Name)
	for _, ks := range slices.Sorted(mapKeys(m.Snapshot.Keyspaces)) {
		for _, tn := range slices.Sorted(mapKeys(m.Snapshot.Keyspaces[ks].Tables)) {
			tb := m.Snapshot.Keyspaces[ks].Tables[tn]
			if err := w.Table(ks, tn, tb.ID, tb.SchemaContent); err != nil {
				t.Fatal(err)
			}
			for _, ss := range slices.Sorted(mapKeys(tb.SSTables)) {
				for _, e := range tb.SSTables[ss] {
					if err := w.Add(ss, e); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if err := w.Close(ManifestHeader{Tokens: m.Tokens, SchemaVersion: m.SchemaVersion, Partitioner: m.Partitioner, BackupUID: m.BackupUID}); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeManifest(buf.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("decoded %+v\nwant %+v", got, m)
	}
	// Out of order, a key would be written twice: refused.
	w = NewManifestWriter(io.Discard, "x")
	w.Table("ks", "t", tid, "")
	if err := w.Table("ks", "a", tid, ""); err == nil {
		t.Error("table out of order accepted")
	}
	w = NewManifestWriter(io.Discard, "x")
	w.Table("ks", "t", tid, "")
	w.Add("nb-2-big", Entry{})
	if err := w.Add("nb-1-big", Entry{}); err == nil {
		t.Error("sstable out of order accepted")
	}
}

func mapKeys[M ~map[string]V, V any](m M) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestScanManifestRefuses checks that the streaming reader refuses what Validate refuses,
// including an entry of another table whose id comes after its entries.
func TestScanManifestRefuses(t *testing.T) {
	other := strings.Repeat("cd", 16)
	for name, doc := range map[string]string{
		"escape":       strings.Replace(esopManifest, "data/ks/t-"+tid+"/2-3898601042/", "data/ks/t-"+tid+"/../../", 1),
		"id after":     strings.Replace(esopManifest, `"id":"`+tid, `"id":"`+other, 1),
		"bad name":     strings.Replace(esopManifest, `"name":"tag1"`, `"name":".."`, 1),
		"keyspace 2×":  `{"snapshot":{"name":"a","keyspaces":{"ks":{},"ks":{}}}}`,
		"trailing":     esopManifest + "{}",
		"truncated":    esopManifest[:len(esopManifest)/2],
		"not a object": `[]`,
	} {
		if _, err := scanFiles([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// generated is a manifest of n entries in one table, produced as it is read, never held
// whole. It counts the bytes read, and where entry i begins.
type generated struct {
	n, next int
	pending []byte
	read    int64
	starts  []int64 // start offset of every 1024th entry
}

func (g *generated) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		switch {
		case g.next == 0:
			g.pending = fmt.Appendf(nil, `{"snapshot":{"name":"big","keyspaces":{"ks":{"tables":{"t":{"sstables":{"nb-1-big":[`)
		case g.next <= g.n:
			i := g.next - 1
			if i%1024 == 0 {
				g.starts = append(g.starts, g.read)
			}
			comma := ","
			if i == 0 {
				comma = ""
			}
			g.pending = fmt.Appendf(nil, `%s{"objectKey":"data/ks/t-%s/%d-1/nb-%d-big-Data.db","type":"FILE","size":%d,"hash":"%s"}`, comma, tid, i+1, i+1, i, hash)
		case g.next == g.n+1:
			g.pending = fmt.Appendf(nil, `]},"id":"%s"}}}}},"tokens":["1"],"schemaVersion":"v"}`, tid)
		default:
			return 0, io.EOF
		}
		g.next++
	}
	k := copy(p, g.pending)
	g.pending = g.pending[k:]
	g.read += int64(k)
	return k, nil
}

// TestScanManifestStreams proves that ScanManifest's memory does not grow with the number
// of entries: reading a manifest of 300,000 entries (about 45 MB, generated as it is read),
// it has read no more than 256 KiB past the entry it yields, and the live heap when it
// yields the last entry is within 4 MiB of the heap at the 1,000th.
func TestScanManifestStreams(t *testing.T) {
	const n = 300_000
	g := &generated{n: n}
	var heapAt1000 uint64
	i := 0
	_, err := ScanManifest(g, func(f File) error {
		if i%1024 == 0 {
			if ahead := g.read - g.starts[i/1024]; ahead > 256<<10 {
				return fmt.Errorf("entry %d: read %d bytes ahead of it", i, ahead)
			}
		}
		if i == 1000 || i == n-1 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if i == 1000 {
				heapAt1000 = ms.HeapAlloc
			} else if grown := int64(ms.HeapAlloc) - int64(heapAt1000); grown > 4<<20 {
				return fmt.Errorf("live heap grew by %d bytes from entry 1000 to %d", grown, i)
			}
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != n || g.read < 40<<20 {
		t.Fatalf("scanned %d entries of %d, %d bytes", i, n, g.read)
	}
}
