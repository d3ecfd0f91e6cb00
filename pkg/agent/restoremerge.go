package agent

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// RestoreSource is a further source node of a restore (RestoreSpec.More): a datacenter
// with fewer nodes than the backup restores several nodes into one pod.
type RestoreSource struct {
	// HostID is the node's host id.
	HostID string
	// ManifestKey is the bucket key of its planned manifest.
	ManifestKey string
}

// restoreSource is one node a restore restores, with its planned manifest.
type restoreSource struct {
	node layout.Node
	ref  layout.Ref
}

// moreSources resolves spec.More: each node in the first's cluster and datacenter, its
// manifest checked as the first's is (plannedManifest).
func moreSources(ctx context.Context, cat layout.Catalog, first layout.Node, spec RestoreSpec) ([]restoreSource, error) {
	var out []restoreSource
	for _, m := range spec.More {
		if err := layout.ValidateHostID(m.HostID); err != nil {
			return nil, fmt.Errorf("source node: %w", err)
		}
		n := layout.Node{Cluster: first.Cluster, Datacenter: first.Datacenter, HostID: m.HostID}
		s := spec
		s.ManifestKey = m.ManifestKey
		ref, err := plannedManifest(ctx, cat, n, s)
		if err != nil {
			return nil, err
		}
		out = append(out, restoreSource{node: n, ref: ref})
	}
	return out, nil
}

// readRestoreLists reads the restore list of every source, each manifest once: with
// several sources, the same read gathers each list's generations, from which renumber
// then decides the renames.
func readRestoreLists(ctx context.Context, p storage.Provider, sources []restoreSource, keep func(layout.File) bool, dataDir, dir string) ([]*restoreList, error) {
	var lists []*restoreList
	for _, s := range sources {
		l, err := readRestoreList(ctx, p, s.ref, keep, len(sources) > 1, dataDir, dir)
		if err != nil {
			closeLists(lists)
			return nil, err
		}
		lists = append(lists, l)
	}
	renumber(lists)
	return lists, nil
}

// renumber sets each list's rename so that no two sources' SSTables share a generation
// in one table directory (cassandra.Renumber), from the generations the lists gathered:
// all components of an SSTable are renamed together. With one list nothing is renamed.
func renumber(lists []*restoreList) {
	if len(lists) < 2 {
		return
	}
	gens := map[string][][]string{} // by directory, per list
	for k, l := range lists {
		for dir, gs := range l.gens {
			if gens[dir] == nil {
				gens[dir] = make([][]string, len(lists))
			}
			for g := range gs {
				gens[dir][k] = append(gens[dir][k], g)
			}
		}
		l.gens = nil
	}
	byDir := make([]map[string]map[string]string, len(lists)) // per list: dir → old → new
	for dir, perList := range gens {
		for k, m := range cassandra.Renumber(perList) {
			if m == nil {
				continue
			}
			if byDir[k] == nil {
				byDir[k] = map[string]map[string]string{}
			}
			byDir[k][dir] = m
		}
	}
	for k, l := range lists {
		if m := byDir[k]; m != nil {
			l.rename = func(lp string) string {
				dir := filepath.Dir(lp)
				d, err := cassandra.ParseDescriptor(filepath.Base(lp))
				if err != nil {
					return lp
				}
				if ng, ok := m[dir][d.Generation]; ok {
					return filepath.Join(dir, d.WithGeneration(ng).FileName())
				}
				return lp
			}
		}
	}
}

func closeLists(lists []*restoreList) {
	for _, l := range lists {
		l.close()
	}
}

// unionTokens returns the tokens of every list's manifest, in order.
func unionTokens(lists []*restoreList) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l.header.Tokens...)
	}
	return out
}

// sourcesKey is the restore key of the sources' manifests (plan.RestoreKey).
func sourcesKey(location string, sources []restoreSource) string {
	keys := make([]string, len(sources))
	for i, s := range sources {
		keys[i] = s.ref.Key
	}
	return plan.RestoreKey(location, keys...)
}

// union returns a restoreList for removeStrays that wants every path of lists.
func union(lists []*restoreList, dir string) (*restoreList, error) {
	u := &restoreList{wanted: newSpill(dir), bySize: newSpill(dir), tables: map[string]cassandra.Table{}}
	for _, l := range lists {
		for k, t := range l.tables {
			u.tables[k] = t
		}
		if err := l.eachWanted(func(rel string) error { return u.wanted.Add(record(rel)) }); err != nil {
			u.close()
			return nil, err
		}
	}
	return u, nil
}
