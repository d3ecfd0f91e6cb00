// Package gc is the one garbage collector of remote backups: it deletes a backup from a
// bucket (its topology files and manifests) and then collects, per node, the data objects
// no manifest references any more, what failed attempts left with them, and the node's
// incomplete multipart uploads. Objects are shared between backups by deduplication, so a
// data object may be deleted only when no manifest names it *and* no backup in flight may
// reuse it: backups in flight announce themselves with markers (layout.InFlight) that the
// agent writes before its dedup check and removes after its manifest.
//
// The handshake is the one of Dekker's mutual exclusion, on a bucket that is strongly
// consistent (S3, Azure Blob and GCS are, for writes, reads and listings of one key):
//
//   - a backup writes its marker, then lists the node's collector locks, and waits while
//     an unexpired one is there (pkg/agent);
//   - a collection writes its lock, then lists the node's markers, and deletes nothing on
//     the node while one of them is live.
//
// Whatever the interleaving, one of the two sees the other's object: either the backup
// lists the data after the collection is over, or the collection leaves the node alone.
// A lock expires (its writer's context ends then), so a dead operator never stops backups;
// a marker is live while its CassandraBackup exists and is not final, or, when the
// collector cannot see that backup, until the marker's own expiry (the operation's time
// limit), so a dead agent delays collection but never blocks it for good.
package gc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// DefaultLockTTL bounds the collection of one node.
const DefaultLockTTL = 10 * time.Minute

// lockSlack is added to a lock's expiry beyond its collection's deadline: requests sent
// just before the deadline, and clocks that differ a little.
const lockSlack = time.Minute

// Collector collects the garbage of one bucket.
type Collector struct {
	// Storage is the bucket.
	Storage storage.Provider
	// Live says whether a marker's backup may still upload; nil honours every marker
	// until it expires.
	Live func(m layout.InFlight) bool
	// Now tells the time; time.Now when nil.
	Now func() time.Time
	// LockTTL bounds the collection of one node; DefaultLockTTL when zero.
	LockTTL time.Duration
}

// Result counts what a collection removed.
type Result struct {
	// Objects is the number of data objects deleted.
	Objects int
	// Markers is the number of stale markers deleted.
	Markers int
	// Uploads is the number of incomplete multipart uploads aborted.
	Uploads int
}

func (r *Result) add(o Result) {
	r.Objects += o.Objects
	r.Markers += o.Markers
	r.Uploads += o.Uploads
}

// BusyError says that a backup in flight holds a node: nothing of it was collected.
type BusyError struct {
	// Node is the node.
	Node layout.Node
	// Marker is the live marker.
	Marker layout.InFlight
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("backup %s (snapshot %s, namespace %s) is in flight on node %s: its data objects are collected once it ends",
		e.Marker.UID, e.Marker.SnapshotTag, e.Marker.Namespace, e.Node.Prefix())
}

// IsBusy reports whether err says a backup in flight held a node.
func IsBusy(err error) bool {
	var b *BusyError
	return errors.As(err, &b)
}

func (c *Collector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// DeleteBackup removes a backup of cluster and tag from the bucket: its topology files
// first (it is no longer committed), then the manifests of tag of each node of
// datacenter in hostIDs, then it collects each node. It can be called again after any
// failure: an error wrapping a BusyError means the backup is gone from the catalog but
// some nodes' data objects wait for a backup in flight.
func (c *Collector) DeleteBackup(ctx context.Context, cluster, datacenter, tag string, hostIDs []string) (Result, error) {
	var res Result
	cat := layout.Catalog{Storage: c.Storage}
	refs, err := cat.Topologies(ctx, cluster, tag)
	if err != nil {
		return res, err
	}
	for _, ref := range refs {
		if err := c.delete(ctx, ref.Key); err != nil {
			return res, err
		}
	}
	var errs []error
	for _, id := range hostIDs {
		node := layout.Node{Cluster: cluster, Datacenter: datacenter, HostID: id}
		if err := node.Validate(); err != nil {
			return res, fmt.Errorf("node %s: %w", id, err)
		}
		keys, err := cat.Manifests(ctx, node)
		if err != nil {
			return res, err
		}
		for _, k := range keys {
			if ref, err := layout.ParseManifestKey(k); err == nil && ref.Tag == tag {
				if err := c.delete(ctx, k); err != nil {
					return res, err
				}
			}
		}
		r, err := c.CollectNode(ctx, node)
		res.add(r)
		if err != nil && !IsBusy(err) {
			return res, err
		}
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// CollectNode deletes the node's data objects that no manifest references, its stale
// markers and its incomplete uploads, unless a backup in flight holds the node (the error
// is then a *BusyError).
func (c *Collector) CollectNode(ctx context.Context, node layout.Node) (Result, error) {
	var res Result
	ttl := c.LockTTL
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	started := c.now()
	deadline := started.Add(ttl)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	id, err := randomID()
	if err != nil {
		return res, err
	}
	lock := layout.InFlight{UID: id, Started: started, Expires: deadline.Add(lockSlack)}
	if err := c.put(ctx, node.LockKey(id), lock); err != nil {
		return res, err
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer dcancel()
		if err := c.Storage.Delete(dctx, node.LockKey(id)); err != nil {
			klog.FromContext(ctx).Info("Collector lock not removed; it expires on its own", "key", node.LockKey(id), "expires", lock.Expires, "err", err)
		}
	}()
	cat := layout.Catalog{Storage: c.Storage}
	markers, _, err := cat.InFlight(ctx, node)
	if err != nil {
		return res, err
	}
	var stale []string
	for _, m := range markers {
		if c.live(m) {
			return res, &BusyError{Node: node, Marker: m}
		}
		stale = append(stale, node.MarkerKey(m.UID))
	}
	keys, err := cat.Unreferenced(ctx, node)
	if err != nil {
		return res, err
	}
	for _, k := range keys {
		if err := c.delete(ctx, k); err != nil {
			return res, err
		}
		res.Objects++
	}
	if res.Uploads, err = storage.AbortUploads(ctx, c.Storage, node.Prefix()+"/", started); err != nil {
		return res, err
	}
	for _, k := range stale {
		if err := c.delete(ctx, k); err != nil {
			return res, err
		}
		res.Markers++
	}
	klog.FromContext(ctx).V(1).Info("Node collected", "node", node.Prefix(), "objects", res.Objects, "staleMarkers", res.Markers, "uploads", res.Uploads)
	return res, nil
}

// live says whether the marker's backup may still upload.
func (c *Collector) live(m layout.InFlight) bool {
	if c.Live != nil {
		return c.Live(m)
	}
	return c.now().Before(m.Expires)
}

func (c *Collector) put(ctx context.Context, key string, v layout.InFlight) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := c.Storage.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

func (c *Collector) delete(ctx context.Context, key string) error {
	if err := c.Storage.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func randomID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
