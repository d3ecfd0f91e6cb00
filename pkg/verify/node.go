package verify

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
)

// sstable is one SSTable of a manifest: its entries, which the manifest lists together.
type sstable struct {
	keyspace, table, tableID, name string
	files                          []layout.File
}

func (s *sstable) same(f layout.File) bool {
	return s.keyspace == f.Keyspace && s.table == f.Table && s.name == f.SSTable
}

// verifyNode checks one node's manifest and objects, one SSTable at a time, and returns
// its result and the manifest's tokens.
func verifyNode(ctx context.Context, cat layout.Catalog, o Options, h layout.Host, node layout.Node) (NodeResult, []string, error) {
	nr := NodeResult{Node: h.Hostname, HostID: h.NodeID}
	mref, ok, err := cat.ManifestRef(ctx, node, o.Tag)
	if err != nil {
		return nr, nil, err
	}
	if !ok {
		nr.fail(node.ManifestPrefix(), "no manifest for snapshot %s", o.Tag)
		return nr, nil, nil
	}
	chk := &checker{storage: o.Storage, node: node, sample: o.Sample, progress: o.Progress, host: h.Hostname}
	work := make(chan *sstable)
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	for range o.Concurrency {
		g.Go(func() error {
			var part NodeResult
			for s := range work {
				if err := chk.check(gctx, s, &part); err != nil {
					return err
				}
			}
			mu.Lock()
			merge(&nr, part)
			mu.Unlock()
			return nil
		})
	}
	tables := map[[2]string]string{} // keyspace, table → id: one entry per table, not per file
	var cur *sstable
	send := func() error {
		if cur == nil {
			return nil
		}
		select {
		case work <- cur:
			cur = nil
			return nil
		case <-gctx.Done():
			return context.Cause(gctx)
		}
	}
	header, scanErr := cat.ScanManifestAt(gctx, mref.Key, func(f layout.File) error {
		nr.Total++
		tables[[2]string{f.Keyspace, f.Table}] = f.TableID
		if cur != nil && !cur.same(f) {
			if err := send(); err != nil {
				return err
			}
		}
		if cur == nil {
			cur = &sstable{keyspace: f.Keyspace, table: f.Table, tableID: f.TableID, name: f.SSTable}
		}
		cur.files = append(cur.files, f)
		return nil
	})
	if scanErr == nil {
		scanErr = send()
	}
	close(work)
	if err := g.Wait(); err != nil {
		return nr, nil, err
	}
	var refused *layout.RefusedError
	switch {
	case errors.As(scanErr, &refused):
		nr.fail(mref.Key, "manifest refused: %s", oneLine(refused.Err))
		return nr, nil, nil
	case scanErr != nil:
		return nr, nil, scanErr
	}
	if len(header.Tokens) == 0 {
		nr.fail(mref.Key, "the manifest records no tokens")
	}
	if header.Name != o.Tag {
		nr.fail(mref.Key, "the manifest names snapshot %q, not %q", header.Name, o.Tag)
	}
	for kt, id := range tables {
		if err := chk.schema(ctx, kt[0], cassandra.TableDirName(kt[1], id), id, &nr); err != nil {
			return nr, nil, err
		}
	}
	return nr, header.Tokens, nil
}

// merge adds a worker's counts and failures to a node's result.
func merge(dst *NodeResult, part NodeResult) {
	dst.Objects += part.Objects
	dst.Bytes += part.Bytes
	dst.FailureCount += part.FailureCount
	for _, f := range part.Failures {
		if len(dst.Failures) < MaxFailures {
			dst.Failures = append(dst.Failures, f)
		}
	}
}
