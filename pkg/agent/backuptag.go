package agent

import (
	"cmp"
	"context"
	"fmt"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
)

// existingBackup looks at the node's backups of the request's tag before anything is
// snapshotted or uploaded. A manifest of the tag written for the same backup uid is the
// existing result (done: an agent restart or a resubmission). A committed backup of the
// tag at the location (its topology exists) is refused to every other request, with
// another uid or none: a later manifest of the tag would otherwise replace what the
// tag's restores read.
func existingBackup(ctx context.Context, cat layout.Catalog, id identity, req api.Request) (done bool, err error) {
	if req.BackupUID != "" {
		keys, err := cat.Manifests(ctx, id.node)
		if err != nil {
			return false, err
		}
		for _, k := range keys {
			if ref, err := layout.ParseManifestKey(k); err != nil || ref.Tag != req.SnapshotTag {
				continue
			}
			// Streamed: only the header matters, whatever the manifest's size.
			if h, err := cat.ScanManifestAt(ctx, k, nil); err == nil && h.BackupUID == req.BackupUID {
				return true, nil
			}
		}
	}
	ref, committed, err := cat.TopologyRef(ctx, id.node.Cluster, req.SnapshotTag)
	if err != nil || !committed {
		return false, err
	}
	return false, fmt.Errorf("snapshot tag %s already has a COMPLETED backup in %s (%s) that this backup (uid %s) did not write: refused, a second backup with the tag would change what its restores read; choose another snapshot tag",
		req.SnapshotTag, req.StorageLocation, ref.Key, cmp.Or(req.BackupUID, "none"))
}
