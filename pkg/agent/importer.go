package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
)

// StagingDir is the directory, under the first data directory, where a restore into a
// running node stages SSTables before importing them.
const StagingDir = ".restore-staging"

// RestoreLive restores keyspaces or tables into the running node: it downloads each table's
// SSTables (verified) into a staging directory and loads them through node control (import
// on Cassandra 4.0+, a refresh of the live table directory on 3.x; see cassandra.LoadSSTables).
// System keyspaces are never imported into a live node.
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
	ref, m, err := layout.Catalog{Storage: p}.Manifest(ctx, node, req.SnapshotTag)
	if err != nil {
		return err
	}
	m = m.Filter(func(ks, table string) bool { return !cassandra.IsSystemKeyspace(ks) && entities.Match(ks, table) })
	// Secondary index SSTables are rebuilt by the import; only base tables are staged.
	for ksName, ks := range m.Snapshot.Keyspaces {
		for tName, t := range ks.Tables {
			for name := range t.SSTables {
				if strings.HasPrefix(name, ".") {
					delete(t.SSTables, name)
				}
			}
			ks.Tables[tName] = t
		}
		m.Snapshot.Keyspaces[ksName] = ks
	}
	if len(m.Files()) == 0 {
		return fmt.Errorf("manifest %s holds no SSTables of %q", ref.Key, req.Entities)
	}
	staging := filepath.Join(dirs[0], StagingDir, opID)
	defer os.RemoveAll(staging)
	if err := download(ctx, p, node, m, staging, req.Concurrency(), lim, tr); err != nil {
		return err
	}
	var tables []string
	for ksName, ks := range m.Snapshot.Keyspaces {
		for tName := range ks.Tables {
			tables = append(tables, ksName+"."+tName)
		}
	}
	sort.Strings(tables)
	for _, kt := range tables {
		ksName, tName, _ := strings.Cut(kt, ".")
		t := m.Snapshot.Keyspaces[ksName].Tables[tName]
		dir := filepath.Join(staging, ksName, cassandra.TableDirName(tName, t.ID))
		if err := cassandra.LoadSSTables(ctx, a.Node, dirs, ksName, tName, dir); err != nil {
			return err
		}
		logger.V(1).Info("Loaded", "table", kt)
	}
	return nil
}
