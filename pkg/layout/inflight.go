package layout

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// InFlightDir is the node directory of in-flight markers and collector locks: what keeps
// garbage collection (pkg/gc) and a backup that reuses objects from acting on one node at
// the same time.
const InFlightDir = "inflight"

// gcLockPrefix starts the names of collector locks under InFlightDir; markers are named by
// their backup's UID, which never starts with it.
const gcLockPrefix = "gc-"

// InFlight is a marker a backup writes under its node's prefix before its first dedup
// check (the listing of what the bucket holds) and removes once its manifest is written
// or it has failed: while it is there, the collector deletes no data object of the node,
// since the backup may reuse any of them. A collector lock has the same shape: while it
// is there, a backup does not start its dedup check.
type InFlight struct {
	// UID is the CassandraBackup's UID (a marker), or the collection's id (a lock).
	UID string `json:"uid"`
	// Namespace is the CassandraBackup's namespace (a marker).
	Namespace string `json:"namespace,omitempty"`
	// SnapshotTag is the backup's tag (a marker).
	SnapshotTag string `json:"snapshotTag,omitempty"`
	// Started is when the marker or lock was written, by its writer's clock.
	Started time.Time `json:"started"`
	// Expires is when its writer gives up for sure: the operation's time limit (a marker),
	// the collection's deadline (a lock). A marker whose backup the collector cannot find
	// is honoured until then.
	Expires time.Time `json:"expires"`
}

// InFlightPrefix returns the prefix of the node's markers and locks.
func (n Node) InFlightPrefix() string {
	return n.Prefix() + "/" + InFlightDir + "/"
}

// MarkerKey returns the key of the marker of the backup with uid.
func (n Node) MarkerKey(uid string) string {
	return n.InFlightPrefix() + uid + ".json"
}

// LockKey returns the key of the collector lock with id.
func (n Node) LockKey(id string) string {
	return n.InFlightPrefix() + gcLockPrefix + id + ".json"
}

// InFlight reads the node's markers and collector locks; one that cannot be read (deleted
// while listing) is skipped, one that cannot be decoded counts as a marker that never
// expires: the collector must not guess.
func (c Catalog) InFlight(ctx context.Context, node Node) (markers, locks []InFlight, err error) {
	keys, err := storage.Keys(ctx, c.Storage, node.InFlightPrefix())
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		var m InFlight
		if err := storage.ReadJSON(ctx, c.Storage, k, &m); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if ctx.Err() != nil {
				return nil, nil, err
			}
			m = InFlight{UID: strings.TrimSuffix(path.Base(k), ".json"), Expires: time.Unix(1<<40, 0)}
		}
		if strings.HasPrefix(path.Base(k), gcLockPrefix) {
			locks = append(locks, m)
		} else {
			markers = append(markers, m)
		}
	}
	return markers, locks, nil
}

// Unreferenced returns the bucket keys of the node's data objects that no manifest of the
// node references, whatever its tag: what failed attempts and deleted backups left.
// Schema objects (SchemaFile) are kept, as they are not in manifests. Any manifest that
// cannot be read fails the whole call: nothing may be collected on a guess.
func (c Catalog) Unreferenced(ctx context.Context, node Node) ([]string, error) {
	keys, err := c.Manifests(ctx, node)
	if err != nil {
		return nil, err
	}
	referenced := map[string]bool{}
	for _, k := range keys {
		if _, err := ParseManifestKey(k); err != nil {
			continue
		}
		// Streamed: the set holds keys only, one per object the node has.
		if _, err := c.ScanManifestAt(ctx, k, func(f File) error {
			referenced[node.Key(f.ObjectKey)] = true
			return nil
		}); err != nil {
			return nil, fmt.Errorf("manifest %s: %w", k, err)
		}
	}
	var out []string
	for info, err := range c.Storage.List(ctx, node.Key(DataDir+"/")) {
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", node.Key(DataDir+"/"), err)
		}
		if !referenced[info.Key] && path.Base(info.Key) != SchemaFile {
			out = append(out, info.Key)
		}
	}
	return out, nil
}
