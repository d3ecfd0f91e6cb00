package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// DefaultConcurrency is how many SSTables of a node are checked at once.
const DefaultConcurrency = 4

// Options say which backup to verify and how much of it.
type Options struct {
	// Storage is the bucket.
	Storage storage.Provider
	// Cluster, Datacenter and Tag name the backup.
	Cluster, Datacenter, Tag string
	// Sample is the fraction of objects downloaded, in (0, 1]; 0 means 1 (every object).
	Sample float64
	// Concurrency is how many SSTables are checked at once; DefaultConcurrency when 0.
	Concurrency int
	// Progress, when set, is told of each object checked.
	Progress func(node string, bytes int64)
}

// Run verifies the backup. The error is for what stops the verification (the bucket
// unreachable, the backup not committed); what is wrong with the backup is in the Result.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Sample <= 0 || o.Sample > 1 {
		o.Sample = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	cat := layout.Catalog{Storage: o.Storage}
	ref, top, err := cat.Topology(ctx, o.Cluster, o.Tag)
	var refused *layout.RefusedError
	switch {
	case errors.As(err, &refused):
		var r Result
		r.Topology = ref.Key
		r.Backup.fail(ref.Key, "topology refused: %s", oneLine(refused.Err))
		return r, nil
	case err != nil:
		return Result{}, err
	}
	r := Result{Topology: ref.Key}
	if top.ClusterName != o.Cluster {
		r.Backup.fail(ref.Key, "topology names cluster %q, not %q", top.ClusterName, o.Cluster)
	}
	owners := map[string]string{} // token → host name
	seen := map[string]bool{}
	for _, h := range top.Topology {
		if h.DC != "" && h.DC != o.Datacenter {
			continue
		}
		if err := h.Validate(); err != nil {
			r.Backup.fail(ref.Key, "host %q: %s", h.Hostname, oneLine(err))
			continue
		}
		if seen[h.NodeID] {
			r.Backup.fail(ref.Key, "host id %s listed twice", h.NodeID)
			continue
		}
		seen[h.NodeID] = true
		node := layout.Node{Cluster: o.Cluster, Datacenter: o.Datacenter, HostID: h.NodeID}
		nr, tokens, err := verifyNode(ctx, cat, o, h, node)
		if err != nil {
			return Result{}, fmt.Errorf("node %s: %w", h.Hostname, err)
		}
		for _, t := range tokens {
			if other, dup := owners[t]; dup {
				r.Backup.fail(ref.Key, "token %s belongs to both %s and %s", t, other, h.Hostname)
			}
			owners[t] = h.Hostname
		}
		r.Nodes = append(r.Nodes, nr)
	}
	if len(r.Nodes) == 0 && r.Backup.FailureCount == 0 {
		r.Backup.fail(ref.Key, "the topology lists no node of datacenter %s", o.Datacenter)
	}
	return r, nil
}
