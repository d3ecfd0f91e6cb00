package fakecassandra

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// sstableFiles groups DataFiles output by SSTable: directory and generation → component
// → content.
func sstableFiles(files map[string][]byte) (map[[2]string]map[string][]byte, error) {
	out := map[[2]string]map[string][]byte{}
	for p, b := range files {
		d, err := cassandra.ParseDescriptor(filepath.Base(p))
		if err != nil {
			return nil, err
		}
		k := [2]string{filepath.Dir(p), d.Version + "-" + d.Format + "-" + d.Generation}
		if out[k] == nil {
			out[k] = map[string][]byte{}
		}
		out[k][d.Component] = b
	}
	return out, nil
}

// CheckUnion checks that restored (DataFiles of one data directory) holds every SSTable
// of every source (DataFiles of each) exactly once and nothing else: each under its own
// table directory, with all its components byte for byte under one generation, which may
// differ from the source's (renumbered). It returns how many SSTables were renumbered.
func CheckUnion(sources []map[string][]byte, restored map[string][]byte) (renumbered int, err error) {
	got, err := sstableFiles(restored)
	if err != nil {
		return 0, err
	}
	used := map[[2]string]string{} // restored SSTable → the source SSTable it matched
	want := 0
	for i, src := range sources {
		ss, err := sstableFiles(src)
		if err != nil {
			return 0, err
		}
		keys := make([][2]string, 0, len(ss))
		for k := range ss {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return keys[a][0]+keys[a][1] < keys[b][0]+keys[b][1] })
		for _, k := range keys {
			want++
			match := [2]string{}
			for gk, comps := range got {
				if gk[0] == k[0] && used[gk] == "" && sameComponents(comps, ss[k]) {
					match = gk
					break
				}
			}
			if match[0] == "" {
				return 0, fmt.Errorf("source %d: SSTable %s/%s is not restored byte for byte under one generation", i, k[0], k[1])
			}
			used[match] = fmt.Sprintf("%d:%s", i, k[1])
			if match[1] != k[1] {
				renumbered++
			}
		}
	}
	if len(got) != want {
		return 0, fmt.Errorf("restored %d SSTables, the sources have %d", len(got), want)
	}
	return renumbered, nil
}

func sameComponents(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for c, x := range a {
		if y, ok := b[c]; !ok || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}
