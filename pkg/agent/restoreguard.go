package agent

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
)

// plannedManifest names the manifest the restore restores: exactly spec.ManifestKey when
// the plan names it (a manifest written later with the same tag is never taken instead);
// without it (pods of plans from before it was passed) the tag's only manifest of the
// node, refusing when the node has several. The manifest itself is streamed by the caller.
func plannedManifest(ctx context.Context, cat layout.Catalog, node layout.Node, spec RestoreSpec) (layout.Ref, error) {
	if key := spec.ManifestKey; key != "" {
		ref, err := layout.ParseManifestKey(key)
		if err != nil || ref.Tag != spec.SnapshotTag || !strings.HasPrefix(key, node.ManifestPrefix()) || strings.Count(key[len(node.ManifestPrefix()):], "/") != 0 {
			return layout.Ref{}, fmt.Errorf("--manifest-key %q is not a manifest of snapshot %s under %s: refused", key, spec.SnapshotTag, node.ManifestPrefix())
		}
		ref.Key = key
		return ref, nil
	}
	keys, err := cat.Manifests(ctx, node)
	if err != nil {
		return layout.Ref{}, err
	}
	var ofTag []string
	for _, k := range keys {
		if ref, err := layout.ParseManifestKey(k); err == nil && ref.Tag == spec.SnapshotTag {
			ofTag = append(ofTag, k)
		}
	}
	if len(ofTag) > 1 {
		return layout.Ref{}, fmt.Errorf("%d manifests of snapshot %s under %s (%s) and no --manifest-key names the planned one: refused; delete the pod so that the webhook creates it with the plan's manifest", len(ofTag), spec.SnapshotTag, node.ManifestPrefix(), strings.Join(ofTag, ", "))
	}
	ref, ok, err := cat.ManifestRef(ctx, node, spec.SnapshotTag)
	if err != nil {
		return layout.Ref{}, err
	}
	if !ok {
		return layout.Ref{}, fmt.Errorf("no manifest for snapshot %s under %s in bucket %s: %w", spec.SnapshotTag, node.ManifestPrefix(), cat.Storage.Bucket(), layout.ErrNotFound)
	}
	return ref, nil
}

// startedFile is where the init container records the restore key before it writes into
// the data directories: SSTables found there later are its own (an interrupted attempt).
func startedFile(spec RestoreSpec) string {
	if spec.MarkerFile == "" {
		return ""
	}
	return spec.MarkerFile + ".started"
}

// claimDataDirs refuses to restore over SSTables that this restore did not write: the data
// directories must hold no SSTable, or the markers must hold this restore's key (a resumed
// attempt). It then records key as started. Without a marker file (not the init
// container) it does nothing.
func claimDataDirs(spec RestoreSpec, key string) error {
	if spec.MarkerFile == "" {
		return nil
	}
	started := startedFile(spec)
	recorded := ""
	for _, f := range []string{started, spec.MarkerFile} {
		if b, err := os.ReadFile(f); err == nil {
			k := strings.TrimSpace(string(b))
			if k == key {
				return nil
			}
			recorded = cmp.Or(recorded, k)
		}
	}
	found, err := anySSTable(spec.DataDirs)
	if err != nil {
		return err
	}
	if found != "" {
		why := "no restore marker"
		if recorded != "" {
			why = fmt.Sprintf("restored under another plan: %s", recorded)
		}
		return fmt.Errorf("refusing to restore %s: the data directory holds SSTables this restore did not write (%s, %s); a live node's data is never overwritten, move the volume's data away or use a fresh volume", key, found, why)
	}
	if err := os.MkdirAll(filepath.Dir(started), 0o755); err != nil {
		return fmt.Errorf("write restore start marker: %w", err)
	}
	if err := file.WriteAtomic(started, []byte(key+"\n")); err != nil {
		return fmt.Errorf("write restore start marker: %w", err)
	}
	return nil
}

// anySSTable returns the path of an SSTable file in a table directory of the data
// directories (<dd>/<ks>/<table>-<id>/<file>), or "".
func anySSTable(dataDirs []string) (string, error) {
	for _, dd := range dataDirs {
		tables, err := filepath.Glob(filepath.Join(dd, "*", "*"))
		if err != nil {
			return "", err
		}
		for _, t := range tables {
			if _, _, err := cassandra.ParseTableDir(filepath.Base(t)); err != nil {
				continue
			}
			entries, err := os.ReadDir(t)
			if err != nil {
				continue // gone, or not a directory
			}
			for _, e := range entries {
				if _, err := cassandra.ParseDescriptor(e.Name()); err == nil && e.Type().IsRegular() {
					return filepath.Join(t, e.Name()), nil
				}
			}
		}
	}
	return "", nil
}

// planKey is the restore key of the plan's manifest, known before storage is read; ""
// when the plan names no manifest.
func planKey(spec RestoreSpec) string {
	if spec.ManifestKey == "" {
		return ""
	}
	keys := []string{spec.ManifestKey}
	for _, m := range spec.More {
		keys = append(keys, m.ManifestKey)
	}
	return plan.RestoreKey(spec.StorageLocation, keys...)
}
