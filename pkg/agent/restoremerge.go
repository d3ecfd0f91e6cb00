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

// renames returns, per source, how its SSTables' local paths change so that no two
// sources' SSTables share a generation in one table directory (cassandra.Renumber): all
// components of an SSTable are renamed together. It reads every manifest once, keeping
// only the generations. With one source nothing is renamed.
func renames(ctx context.Context, p storage.Provider, sources []restoreSource, keep func(layout.File) bool, dataDir string) ([]func(string) string, error) {
	out := make([]func(string) string, len(sources))
	if len(sources) < 2 {
		return out, nil
	}
	gens := map[string][][]string{} // by directory, per source
	for k, s := range sources {
		err := retryFile(ctx, nil, func(ctx context.Context) error {
			seen := map[string]map[string]bool{}
			_, err := layout.Catalog{Storage: p}.ScanManifestAt(ctx, s.ref.Key, func(f layout.File) error {
				if !keep(f) {
					return nil
				}
				lp, err := layout.LocalPath(dataDir, f.ObjectKey)
				if err != nil {
					return err
				}
				d, err := cassandra.ParseDescriptor(filepath.Base(lp))
				if err != nil {
					return nil // not an SSTable component: restored under its name
				}
				dir := filepath.Dir(lp)
				if seen[dir] == nil {
					seen[dir] = map[string]bool{}
				}
				seen[dir][d.Generation] = true
				return nil
			})
			if err != nil {
				return err
			}
			for dir, gs := range seen {
				if gens[dir] == nil {
					gens[dir] = make([][]string, len(sources))
				}
				gens[dir][k] = gens[dir][k][:0]
				for g := range gs {
					gens[dir][k] = append(gens[dir][k], g)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	byDir := make([]map[string]map[string]string, len(sources)) // per source: dir → old → new
	for dir, perSource := range gens {
		for k, m := range cassandra.Renumber(perSource) {
			if m == nil {
				continue
			}
			if byDir[k] == nil {
				byDir[k] = map[string]map[string]string{}
			}
			byDir[k][dir] = m
		}
	}
	for k := range sources {
		if byDir[k] == nil {
			continue
		}
		m := byDir[k]
		out[k] = func(lp string) string {
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
	return out, nil
}

// readRestoreLists reads the restore list of every source, renamed where generations
// clash (renames).
func readRestoreLists(ctx context.Context, p storage.Provider, sources []restoreSource, keep func(layout.File) bool, dataDir, dir string) ([]*restoreList, error) {
	rn, err := renames(ctx, p, sources, keep, dataDir)
	if err != nil {
		return nil, err
	}
	var lists []*restoreList
	for i, s := range sources {
		l, err := readRestoreList(ctx, p, s.ref, keep, rn[i], dataDir, dir)
		if err != nil {
			closeLists(lists)
			return nil, err
		}
		lists = append(lists, l)
	}
	return lists, nil
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
		if err := l.wanted.Each(func(rec []byte) error { return u.wanted.Add(rec) }); err != nil {
			u.close()
			return nil, err
		}
	}
	return u, nil
}
