package agent

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// StagingDir is the directory, under the first data directory, where a restore into a
// running node stages SSTables before importing them.
const StagingDir = ".restore-staging"

// RestoreLive restores keyspaces or tables into the running node: it checks that the node
// can take them (checkLive: table ids and schemas, free space), then downloads each table's SSTables
// (verified) into a staging directory and loads them through node control (import on
// Cassandra 4.0+, a refresh of the live table directory on 3.x; see cassandra.LoadSSTables).
// Phase api.PhaseCheck stops after the checks; api.PhaseTruncate truncates the tables
// after them instead of restoring. System keyspaces are never imported into a live node.
func (a *Agent) RestoreLive(ctx context.Context, req api.Request, opID string, tr *Tracker) (err error) {
	logger := klog.FromContext(ctx).WithValues("snapshotTag", req.SnapshotTag)
	entities, err := cassandra.ParseEntities(req.Entities)
	if err != nil {
		return err
	}
	if req.Import != nil && req.Import.Keyspace != "" {
		entities = append(entities, cassandra.Entity{Keyspace: req.Import.Keyspace, Table: req.Import.Table})
	}
	lim, err := newLimiter(req.Bandwidth)
	if err != nil {
		return err
	}
	p, loc, err := a.open(ctx, &req)
	if err != nil {
		return err
	}
	defer p.Close()
	id, err := a.identify(ctx, loc)
	if err != nil {
		return err
	}
	node := id.node
	if loc.Global() && req.SourceHostID != "" {
		node.HostID = req.SourceHostID
	}
	dirs, err := a.dataDirs(ctx, &req)
	if err != nil {
		return err
	}
	staging := filepath.Join(dirs[0], StagingDir, opID)
	defer os.RemoveAll(staging)
	list, err := a.liveList(ctx, p, node, req, entities, staging)
	if err != nil {
		return err
	}
	defer list.close()
	if err := a.checkLive(ctx, p, node, list, dirs, req.MinFreeBytes); err != nil {
		return err
	}
	switch req.RestorationPhase {
	case api.PhaseCheck:
		return nil
	case api.PhaseTruncate:
		return a.truncateLive(ctx, list)
	}
	if err := download(ctx, p, node, list, req.Concurrency(), lim, tr); err != nil {
		return err
	}
	for _, dir := range slices.Sorted(maps.Keys(list.tables)) {
		t := list.tables[dir]
		if err := cassandra.LoadSSTables(ctx, a.Node, dirs, t.Keyspace, t.Name, filepath.Join(staging, dir)); err != nil {
			return err
		}
		logger.V(1).Info("Loaded", "table", t.Keyspace+"."+t.Name)
	}
	return nil
}

// liveList reads what a restore into the running node fetches: the entries of node's
// manifest of the request's snapshot that belong to the selected tables (no system
// keyspace, no secondary index: the import rebuilds those), staged under staging.
func (a *Agent) liveList(ctx context.Context, p storage.Provider, node layout.Node, req api.Request, entities cassandra.Entities, staging string) (*restoreList, error) {
	ref, ok, err := layout.Catalog{Storage: p}.ManifestRef(ctx, node, req.SnapshotTag)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no manifest for snapshot %s under %s in bucket %s: %w", req.SnapshotTag, node.ManifestPrefix(), p.Bucket(), layout.ErrNotFound)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, err
	}
	spills, err := spillDir(staging)
	if err != nil {
		return nil, err
	}
	list, err := readRestoreList(ctx, p, ref, func(f layout.File) bool {
		return !cassandra.IsSystemKeyspace(f.Keyspace) && entities.Match(f.Keyspace, f.Table) && !strings.HasPrefix(f.SSTable, ".")
	}, nil, staging, spills)
	if err != nil {
		return nil, err
	}
	if len(list.tables) == 0 {
		list.close()
		return nil, fmt.Errorf("manifest %s holds no SSTables of %q", ref.Key, req.Entities)
	}
	return list, nil
}
