package restore

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// Bucket reads what a restore plan needs from a backup's storage: its nodes and their
// tokens.
type Bucket interface {
	// Nodes returns the nodes of backup b, reading the storage with the credentials of
	// the Secret secret (in b's namespace; none when empty).
	Nodes(ctx context.Context, b *v1alpha1.CassandraBackup, secret string) ([]SourceNode, error)
}

// BucketFunc adapts a function to Bucket.
type BucketFunc func(ctx context.Context, b *v1alpha1.CassandraBackup, secret string) ([]SourceNode, error)

// Nodes calls f.
func (f BucketFunc) Nodes(ctx context.Context, b *v1alpha1.CassandraBackup, secret string) ([]SourceNode, error) {
	return f(ctx, b, secret)
}

// StorageBucket reads backups through pkg/storage, with credentials read from the Secret at
// the moment of use.
type StorageBucket struct {
	// Kube reads Secrets.
	Kube kubernetes.Interface
	// Storage is the base storage configuration (endpoint overrides, HTTP client).
	Storage storage.Config
}

// Nodes reads the backup's newest topology for its cluster and snapshot tag, then each
// node's newest manifest for the tag, for its tokens.
func (s *StorageBucket) Nodes(ctx context.Context, b *v1alpha1.CassandraBackup, name string) ([]SourceNode, error) {
	cfg := s.Storage
	cfg.Insecure = b.Spec.Insecure
	if name != "" {
		cfg.Credentials = secret.Reader{Kube: s.Kube}.Source(b.Namespace, name)
	}
	p, loc, err := storage.OpenLocation(ctx, b.Spec.StorageLocation, cfg)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	cluster, tag := b.Spec.Cluster, b.Spec.SnapshotTag
	keys, err := storage.Keys(ctx, p, layout.TopologyDir+"/")
	if err != nil {
		return nil, err
	}
	ref, ok := layout.LatestTopology(keys, cluster, tag)
	if !ok {
		return nil, fmt.Errorf("no topology of cluster %s for snapshot %s in %s: the backup is not complete in storage", cluster, tag, b.Spec.StorageLocation)
	}
	var top layout.Topology
	if err := storage.ReadJSON(ctx, p, ref.Key, &top); err != nil {
		return nil, err
	}
	var out []SourceNode
	for _, h := range top.Topology {
		if h.DC != "" && h.DC != b.Spec.Datacenter {
			continue
		}
		node := layout.Node{Cluster: cluster, Datacenter: b.Spec.Datacenter, HostID: h.NodeID}
		if !loc.Global() {
			node = layout.Node{Cluster: loc.Cluster, Datacenter: loc.DC, HostID: loc.Node}
		}
		if err := node.Validate(); err != nil {
			return nil, fmt.Errorf("topology %s, host %s: %w", ref.Key, h.Hostname, err)
		}
		mkeys, err := storage.Keys(ctx, p, node.ManifestPrefix())
		if err != nil {
			return nil, err
		}
		mref, ok := layout.LatestManifest(mkeys, tag)
		if !ok {
			return nil, fmt.Errorf("no manifest for snapshot %s of host %s under %s", tag, h.Hostname, node.ManifestPrefix())
		}
		var m layout.Manifest
		if err := storage.ReadJSON(ctx, p, mref.Key, &m); err != nil {
			return nil, err
		}
		if len(m.Tokens) == 0 {
			return nil, fmt.Errorf("manifest %s records no tokens", mref.Key)
		}
		out = append(out, SourceNode{Hostname: h.Hostname, Rack: h.Rack, HostID: h.NodeID, Tokens: m.Tokens, ManifestKey: mref.Key})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("topology %s has no node of datacenter %s", ref.Key, b.Spec.Datacenter)
	}
	return out, nil
}
