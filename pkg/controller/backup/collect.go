package backup

import (
	"k8s.io/apimachinery/pkg/labels"

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
