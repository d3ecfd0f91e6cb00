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

// Nodes reads the backup from the bucket (layout.Catalog.Backup), for its nodes' tokens.
func (s *StorageBucket) Nodes(ctx context.Context, b *v1alpha1.CassandraBackup, name string) ([]SourceNode, error) {
	cfg := s.Storage
	where := b.Storage()
	cfg.Insecure = where.Insecure
	if name != "" {
		cfg.Credentials = secret.Reader{Kube: s.Kube}.Source(b.Namespace, name)
	}
	p, _, err := storage.OpenLocation(ctx, where.StorageLocation, cfg)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	_, nodes, err := layout.Catalog{Storage: p}.Backup(ctx, b.Spec.Cluster, b.Spec.Datacenter, b.Spec.SnapshotTag)
	if err != nil {
		return nil, err
	}
	out := make([]SourceNode, 0, len(nodes))
	for _, n := range nodes {
		if len(n.Manifest.Tokens) == 0 {
			return nil, fmt.Errorf("manifest %s records no tokens", n.Ref.Key)
		}
		out = append(out, SourceNode{Hostname: n.Host.Hostname, Rack: n.Host.Rack, HostID: n.Host.NodeID, Tokens: n.Manifest.Tokens, ManifestKey: n.Ref.Key, Bytes: n.Manifest.Bytes})
	}
	return out, nil
}
