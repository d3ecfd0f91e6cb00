package metrics

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// transitions observes backups and restores entering a final state.
type transitions struct {
	active          *atomic.Bool
	logger          atomic.Pointer[klog.Logger]
	now             func() time.Time
	duration        *prometheus.HistogramVec
	size            *prometheus.HistogramVec
	restoreDuration *prometheus.HistogramVec
}

func newTransitions(active *atomic.Bool, now func() time.Time) *transitions {
	t := &transitions{
		active: active, now: now,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: Duration, Help: "Duration of CassandraBackups from start to completion, by namespace, cluster, datacenter and result.",
			// 10 s to about 2 days.
			Buckets: prometheus.ExponentialBuckets(10, 3, 10),
		}, []string{"namespace", "cluster", "datacenter", "result"}),
		size: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: Size, Help: "Bytes of completed CassandraBackups, all nodes together, by namespace, cluster and datacenter.",
			// 1 MiB to 16 TiB.
			Buckets: prometheus.ExponentialBuckets(1<<20, 4, 13),
		}, []string{"namespace", "cluster", "datacenter"}),
		restoreDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: RestoreDuration, Help: "Duration of restores, from the datacenter's creation (CassandraDataCenter or CassandraDatacenter) to the restore's end, by namespace, cluster, datacenter and result.",
			Buckets: prometheus.ExponentialBuckets(10, 3, 10),
		}, []string{"namespace", "cluster", "datacenter", "result"}),
	}
	logger := klog.Background()
	t.logger.Store(&logger)
	return t
}

func (t *transitions) collectors() []prometheus.Collector {
	return []prometheus.Collector{t.duration, t.size, t.restoreDuration}
}

func finalBackup(s v1alpha1.BackupState) bool {
	return s == v1alpha1.BackupCompleted || s == v1alpha1.BackupFailed || s == v1alpha1.BackupCancelled
}

// backup logs b's state change and observes b when it has just become final.
func (t *transitions) backup(old, b *v1alpha1.CassandraBackup) {
	if !t.active.Load() {
		return
	}
	logBackup(*t.logger.Load(), old, b)
	if finalBackup(old.Status.State) || !finalBackup(b.Status.State) {
		return
	}
	result := strings.ToLower(string(b.Status.State))
	if d, ok := runSeconds(b.Status.StartTime, b.Status.CompletionTime, t.now()); ok {
		t.duration.WithLabelValues(b.Namespace, b.Spec.Cluster, b.Spec.Datacenter, result).Observe(d)
	}
	if b.Status.State == v1alpha1.BackupCompleted {
		var bytes int64
		for _, n := range b.Status.Nodes {
			bytes += n.BytesTotal
		}
		t.size.WithLabelValues(b.Namespace, b.Spec.Cluster, b.Spec.Datacenter).Observe(float64(bytes))
	}
}

// runSeconds is the time from start to completion (to now when none is recorded), never
// negative; ok is false without a start.
func runSeconds(start, completion *metav1.Time, now time.Time) (d float64, ok bool) {
	if start == nil {
		return 0, false
	}
	end := now
	if completion != nil {
		end = completion.Time
	}
	return max(end.Sub(start.Time).Seconds(), 0), true
}

func finalRestore(st *v1alpha1.RestoreStatus) bool {
	return st != nil && (st.State == v1alpha1.RestoreCompleted || st.State == v1alpha1.RestoreFailed)
}

// restore logs dc's restore state change and observes the restore when it has just ended.
func (t *transitions) restore(old, dc *v1alpha1.CassandraDataCenter) {
	if !t.active.Load() || dc.Spec.Restore == nil {
		return
	}
	logRestore(*t.logger.Load(), old, dc)
	if finalRestore(old.Status.Restore) || !finalRestore(dc.Status.Restore) {
		return
	}
	d := max(t.now().Sub(dc.CreationTimestamp.Time).Seconds(), 0)
	t.restoreDuration.WithLabelValues(dc.Namespace, dc.Spec.Cluster, datacenterLabel(dc), strings.ToLower(string(dc.Status.Restore.State))).Observe(d)
}
