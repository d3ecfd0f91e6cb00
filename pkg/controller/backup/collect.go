package backup

import (
	"context"
	"errors"

	"k8s.io/klog/v2"

	"k8s.io/apimachinery/pkg/labels"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/gc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// collector is the garbage collector of the bucket p, honouring the markers of the
// backups this operator sees in flight.
func (r *remote) collector(p storage.Provider) *gc.Collector {
	return &gc.Collector{Storage: p, Now: r.cfg.Now, Live: r.inFlight}
}

// inFlight says whether a marker's backup may still upload: a CassandraBackup with its
// UID that is not final; a marker of a backup this operator cannot see (another
// Kubernetes cluster writing the same bucket, a backup deleted while its agent was
// unreachable) until the marker expires with its operation's time limit.
func (r *remote) inFlight(m layout.InFlight) bool {
	if r.backups != nil {
		all, err := r.backups.List(labels.Everything())
		if err == nil {
			for _, b := range all {
				if string(b.UID) == m.UID {
					return !final(b.Status.State)
				}
			}
		}
	}
	return r.cfg.Now().Before(m.Expires)
}

// Collect collects the nodes' garbage in the backup's bucket.
func (r *remote) Collect(ctx context.Context, b *v1alpha1.CassandraBackup, hostIDs []string) error {
	p, err := r.open(ctx, b)
	if err != nil {
		return err
	}
	defer p.Close()
	c := r.collector(p)
	var errs []error
	for _, id := range hostIDs {
		node := layout.Node{Cluster: b.Spec.Cluster, Datacenter: b.Spec.Datacenter, HostID: id}
		res, err := c.CollectNode(ctx, node)
		if err == nil {
			klog.FromContext(ctx).Info("Leftovers of failed attempts collected", "node", node.Prefix(), "objects", res.Objects, "uploads", res.Uploads, "staleMarkers", res.Markers)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// collectAttempts collects what failed attempts of the backup left on its nodes (those
// with more than one attempt, or every node that had one when the backup failed). Best
// effort: what it cannot collect now (a backup in flight holds the node, the bucket
// fails) the next collection of the node removes.
func (c *Controller) collectAttempts(ctx context.Context, b *v1alpha1.CassandraBackup) {
	var ids []string
	for _, n := range b.Status.Nodes {
		if n.HostID != "" && (n.Attempts > 1 || b.Status.State == v1alpha1.BackupFailed && n.Attempts > 0) {
			ids = append(ids, n.HostID)
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := c.ext.Collect(ctx, b, ids); err != nil {
		klog.FromContext(ctx).Info("Leftovers of failed attempts not collected yet; the next collection of the node removes them", "err", err)
	}
}
