package backup

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
)

// The backup's rate and ETA (pkg/progress): each poll of a node's operation feeds the
// node's Meter, kept in memory only (a restarted operator starts it empty); status gets
// the counts, rate and ETA at most every progress.StatusInterval per backup, unless
// something else changed and the status is written anyway.

// meterKey names a node's meter: the backup's uid and the node.
func meterKey(b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) string {
	return string(b.UID) + "/" + n.Node
}

// measure feeds the node's meter with its counts at now and sets its rate and ETA; a
// node that ended has neither, and its meter is dropped. The meters of backups deleted
// or cancelled while running are swept once no poll feeds them (progress.StaleAfter).
func (c *Controller) measure(b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus, now time.Time) {
	c.meters.Sweep(now)
	if final(n.State) {
		c.meters.Forget(meterKey(b, n))
		n.TransferRate = progress.Rate(progress.Report{}, now)
		return
	}
	r := c.meters.Observe(meterKey(b, n), now, n.BytesUploaded, n.BytesTotal)
	n.TransferRate = progress.Rate(r, now)
}

// summarize sets the whole backup's size, rate and ETA from its nodes.
func summarize(st *v1alpha1.CassandraBackupStatus) {
	reports := make([]progress.Report, 0, len(st.Nodes))
	for _, n := range st.Nodes {
		reports = append(reports, progress.FromStatus(n.BytesUploaded, n.BytesTotal, n.TransferRate))
	}
	st.ProgressSummary = progress.Summary(progress.Sum(reports...))
}

// coalesce keeps the progress in status as it was (before) when only progress changed
// and the backup's last progress write is younger than progress.StatusInterval, so the
// status is not written at every poll; it also keeps the old measuring time when the
// progress did not change at all. It records the writes it lets through.
func (c *Controller) coalesce(b *v1alpha1.CassandraBackup, before *v1alpha1.CassandraBackupStatus, now time.Time) {
	c.gate.Sweep(now)
	st := &b.Status
	if len(before.Nodes) != len(st.Nodes) {
		return
	}
	var times []*metav1.Time
	for i := range before.Nodes {
		times = append(times, before.Nodes[i].ProgressTime)
	}
	key := string(b.UID)
	switch {
	case !equal(withProgressOf(st, before, true), before):
		// Something beyond progress changed: the status is written anyway.
	case equal(withProgressOf(st, before, false), before):
		// Nothing moved: keep the old measuring time, write nothing.
		*st = *withProgressOf(st, before, true)
		return
	case !c.gate.Due(key, now, progress.Newest(times...)):
		*st = *withProgressOf(st, before, true)
		return
	}
	c.gate.Wrote(key, now)
}

// withProgressOf returns a copy of st whose progress fields are from's with all, or
// whose nodes' measuring times only are from's without.
func withProgressOf(st, from *v1alpha1.CassandraBackupStatus, all bool) *v1alpha1.CassandraBackupStatus {
	out := st.DeepCopy()
	for i := range out.Nodes {
		n, f := &out.Nodes[i], &from.Nodes[i]
		if n.Node != f.Node {
			return out
		}
		if !all {
			n.ProgressTime = f.ProgressTime
			continue
		}
		n.Progress, n.BytesTotal, n.BytesUploaded = f.Progress, f.BytesTotal, f.BytesUploaded
		n.FilesTotal, n.FilesSkipped = f.FilesTotal, f.FilesSkipped
		n.TransferRate = *f.TransferRate.DeepCopy()
	}
	if all {
		out.Progress, out.ProgressSummary = from.Progress, from.ProgressSummary
	}
	return out
}

func equal(a, b *v1alpha1.CassandraBackupStatus) bool { return equality.Semantic.DeepEqual(a, b) }
