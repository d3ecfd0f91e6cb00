package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// ErrNotFound wraps the errors of a Catalog for what the bucket does not hold (yet): a
// topology, a node's manifest.
var ErrNotFound = errors.New("not in the bucket")

// Catalog reads the backups a bucket holds: the one reader of remote backups, used by the
// backup controller (import, commit, deletion), the restore controller (the plan), the
// agent (restore, deduplication) and garbage collection. It reads topologies and
// manifests; it writes nothing.
type Catalog struct {
	// Storage is the bucket.
	Storage storage.Provider
}

// NodeBackup is one node of a committed backup: the topology's host and the node's
// manifest for the backup's tag.
type NodeBackup struct {
	// Host is the node as the topology records it.
	Host Host
	// Node locates the node's files in the bucket.
	Node Node
	// Ref names the node's manifest.
	Ref Ref
	// Manifest is the header and totals of the node's manifest, streamed and validated.
	Manifest ManifestSummary
}

// Backups returns the topology files of a cluster, the commit points of its backups,
// oldest first.
func (c Catalog) Backups(ctx context.Context, cluster string) ([]Ref, error) {
	keys, err := storage.Keys(ctx, c.Storage, TopologyDir+"/"+cluster+"-")
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, k := range keys {
		if ref, err := ParseTopologyKey(k, cluster); err == nil {
			refs = append(refs, ref)
		}
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].EpochMillis < refs[j].EpochMillis })
	return refs, nil
}

// Topologies returns the topology files of a cluster's backup with tag.
func (c Catalog) Topologies(ctx context.Context, cluster, tag string) ([]Ref, error) {
	keys, err := storage.Keys(ctx, c.Storage, TopologyDir+"/"+cluster+"-"+tag+"-")
	if err != nil {
		return nil, err
	}
	var out []Ref
	for _, k := range keys {
		if ref, err := ParseTopologyKey(k, cluster); err == nil && ref.Tag == tag {
			out = append(out, ref)
		}
	}
	return out, nil
}

// TopologyRef returns the newest topology file of a cluster's backup with tag; ok is
// false when the backup is not committed.
func (c Catalog) TopologyRef(ctx context.Context, cluster, tag string) (Ref, bool, error) {
	keys, err := storage.Keys(ctx, c.Storage, TopologyDir+"/"+cluster+"-"+tag+"-")
	if err != nil {
		return Ref{}, false, err
	}
	ref, ok := LatestTopology(keys, cluster, tag)
	return ref, ok, nil
}

// Topology reads the newest topology of a cluster's backup with tag; the error wraps
// ErrNotFound when there is none.
func (c Catalog) Topology(ctx context.Context, cluster, tag string) (Ref, *Topology, error) {
	ref, ok, err := c.TopologyRef(ctx, cluster, tag)
	if err != nil {
		return ref, nil, err
	}
	if !ok {
		return ref, nil, fmt.Errorf("no topology of cluster %s for snapshot %s in bucket %s: %w", cluster, tag, c.Storage.Bucket(), ErrNotFound)
	}
	var raw json.RawMessage
	if err := storage.ReadJSON(ctx, c.Storage, ref.Key, &raw); err != nil {
		return ref, nil, err
	}
	top, err := DecodeTopology(raw)
	if err != nil {
		return ref, nil, &RefusedError{Key: ref.Key, Err: err}
	}
	return ref, top, nil
}

// Manifests returns the keys of a node's manifests.
func (c Catalog) Manifests(ctx context.Context, node Node) ([]string, error) {
	return storage.Keys(ctx, c.Storage, node.ManifestPrefix())
}

// ManifestRef returns the node's newest manifest for tag; ok is false when it has none.
func (c Catalog) ManifestRef(ctx context.Context, node Node, tag string) (Ref, bool, error) {
	keys, err := c.Manifests(ctx, node)
	if err != nil {
		return Ref{}, false, err
	}
	ref, ok := LatestManifest(keys, tag)
	return ref, ok, nil
}

// Manifest reads and validates the node's newest manifest for tag; the error wraps
// ErrNotFound when it has none.
func (c Catalog) Manifest(ctx context.Context, node Node, tag string) (Ref, *Manifest, error) {
	ref, m, ok, err := c.pick(ctx, node, func(keys []string) (Ref, bool) { return LatestManifest(keys, tag) })
	if err == nil && !ok {
		err = fmt.Errorf("no manifest for snapshot %s under %s in bucket %s: %w", tag, node.ManifestPrefix(), c.Storage.Bucket(), ErrNotFound)
	}
	return ref, m, err
}

// NewestManifest reads and validates the node's newest manifest of any tag; ok is false
// when the node has none.
func (c Catalog) NewestManifest(ctx context.Context, node Node) (Ref, *Manifest, bool, error) {
	return c.pick(ctx, node, NewestManifest)
}

// ReadManifest reads and validates the manifest at key.
func (c Catalog) ReadManifest(ctx context.Context, key string) (*Manifest, error) {
	m := &Manifest{}
	if err := storage.ReadJSON(ctx, c.Storage, key, m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, &RefusedError{Key: key, Err: err}
	}
	return m, nil
}

// pick reads the manifest of the node that choose chooses among its manifest keys.
func (c Catalog) pick(ctx context.Context, node Node, choose func(keys []string) (Ref, bool)) (Ref, *Manifest, bool, error) {
	keys, err := c.Manifests(ctx, node)
	if err != nil {
		return Ref{}, nil, false, err
	}
	ref, ok := choose(keys)
	if !ok {
		return ref, nil, false, nil
	}
	m, err := c.ReadManifest(ctx, ref.Key)
	return ref, m, true, err
}

// Backup reads a committed backup of a datacenter: the newest topology of the cluster and
// tag, then the newest manifest of the tag of each of its hosts in datacenter (hosts with
// no datacenter recorded count as in it). The error wraps ErrNotFound when the topology,
// a manifest or every host of the datacenter is missing.
func (c Catalog) Backup(ctx context.Context, cluster, datacenter, tag string) (Ref, []NodeBackup, error) {
	ref, top, err := c.Topology(ctx, cluster, tag)
	if err != nil {
		return ref, nil, err
	}
	var nodes []NodeBackup
	for _, h := range top.Topology {
		// Every host, not only the datacenter's: a name with syntax in it is a tampered
		// topology.
		if err := h.Validate(); err != nil {
			return ref, nil, &RefusedError{Key: ref.Key, Err: err}
		}
		if h.DC != "" && h.DC != datacenter {
			continue
		}
		node := Node{Cluster: cluster, Datacenter: datacenter, HostID: h.NodeID}
		if err := node.Validate(); err != nil {
			return ref, nil, fmt.Errorf("topology %s, host %s: %w", ref.Key, h.Hostname, err)
		}
		mref, ok, err := c.ManifestRef(ctx, node, tag)
		if err == nil && !ok {
			err = fmt.Errorf("no manifest for snapshot %s under %s in bucket %s: %w", tag, node.ManifestPrefix(), c.Storage.Bucket(), ErrNotFound)
		}
		if err != nil {
			return ref, nil, fmt.Errorf("the topology %s lists host %s: %w", ref.Key, h.Hostname, err)
		}
		m, err := c.SummarizeManifest(ctx, mref.Key)
		if err != nil {
			return ref, nil, fmt.Errorf("the topology %s lists host %s: %w", ref.Key, h.Hostname, err)
		}
		nodes = append(nodes, NodeBackup{Host: h, Node: node, Ref: mref, Manifest: m})
	}
	if len(nodes) == 0 {
		return ref, nil, fmt.Errorf("the topology %s lists no node of datacenter %s: %w", ref.Key, datacenter, ErrNotFound)
	}
	return ref, nodes, nil
}

// References returns the data objects of a node's manifests of tag, each with whether a
// manifest of another tag references it too, and the keys of the manifests of tag.
// Object keys are relative to the node (Node.Key makes them bucket keys).
func (c Catalog) References(ctx context.Context, node Node, tag string) (objects map[string]bool, manifests []string, err error) {
	keys, err := c.Manifests(ctx, node)
	if err != nil {
		return nil, nil, err
	}
	objects = map[string]bool{}
	shared := map[string]bool{}
	for _, k := range keys {
		ref, err := ParseManifestKey(k)
		if err != nil {
			continue
		}
		// Streamed: the sets hold keys only, one per object the node has.
		if _, err := c.ScanManifestAt(ctx, k, func(f File) error {
			if ref.Tag == tag {
				objects[f.ObjectKey] = false
			} else {
				shared[f.ObjectKey] = true
			}
			return nil
		}); err != nil {
			return nil, nil, err
		}
		if ref.Tag == tag {
			manifests = append(manifests, k)
		}
	}
	for k := range objects {
		objects[k] = shared[k]
	}
	return objects, manifests, nil
}
