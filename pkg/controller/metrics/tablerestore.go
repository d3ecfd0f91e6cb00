package metrics

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

var tableRestoresDesc = prometheus.NewDesc(TableRestores, "CassandraRestores by namespace and state.", []string{"namespace", "state"}, nil)

// tableRestoreStates are the states every namespace with a CassandraRestore reports.
var tableRestoreStates = []v1alpha1.TableRestoreState{v1alpha1.TableRestorePending, v1alpha1.TableRestoreRunning,
	v1alpha1.TableRestoreCompleted, v1alpha1.TableRestoreFailed, v1alpha1.TableRestoreCancelled}

// tableRestores exports the CassandraRestores: a gauge by state computed from the cache at
// each scrape, and the duration and the bytes of each restore observed once when it ends,
// as the backups' metrics are.
type tableRestores struct {
	lister   listers.CassandraRestoreLister
	active   *atomic.Bool
	now      func() time.Time
	duration *prometheus.HistogramVec
	size     *prometheus.HistogramVec
}

func newTableRestores(lister listers.CassandraRestoreLister, active *atomic.Bool, now func() time.Time) *tableRestores {
	return &tableRestores{lister: lister, active: active, now: now,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: TableRestoreDuration, Help: "Duration of CassandraRestores from start to end, by namespace and result.",
			Buckets: prometheus.ExponentialBuckets(10, 3, 10),
		}, []string{"namespace", "result"}),
		size: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: TableRestoreSize, Help: "Bytes restored by ended CassandraRestores, all nodes together, by namespace and result.",
			Buckets: prometheus.ExponentialBuckets(1<<20, 4, 13),
		}, []string{"namespace", "result"}),
	}
}

func (t *tableRestores) collectors() []prometheus.Collector {
	return []prometheus.Collector{t, t.duration, t.size}
}

// Describe sends the gauge's descriptor.
func (t *tableRestores) Describe(ch chan<- *prometheus.Desc) { ch <- tableRestoresDesc }

// Collect sends the gauge; nothing unless this process leads.
func (t *tableRestores) Collect(ch chan<- prometheus.Metric) {
	if !t.active.Load() {
		return
	}
	list, err := t.lister.List(labels.Everything())
	if err != nil {
		return
	}
	counts := map[string]map[v1alpha1.TableRestoreState]int{}
	for _, r := range list {
		if counts[r.Namespace] == nil {
			counts[r.Namespace] = map[v1alpha1.TableRestoreState]int{}
		}
		counts[r.Namespace][cmpState(r.Status.State)]++
	}
	for ns, byState := range counts {
		for _, s := range tableRestoreStates {
			ch <- prometheus.MustNewConstMetric(tableRestoresDesc, prometheus.GaugeValue, float64(byState[s]), ns, string(s))
		}
	}
}

func cmpState(s v1alpha1.TableRestoreState) v1alpha1.TableRestoreState {
	if s == "" {
		return v1alpha1.TableRestorePending
	}
	return s
}

func finalTableRestore(s v1alpha1.TableRestoreState) bool {
	return s == v1alpha1.TableRestoreCompleted || s == v1alpha1.TableRestoreFailed || s == v1alpha1.TableRestoreCancelled
}

// observe records r's duration and bytes when it has just ended (a FAILED restore retried
// with spec.retry that ends again is observed again: each end is one attempt's result).
func (t *tableRestores) observe(old, r *v1alpha1.CassandraRestore) {
	if !t.active.Load() || finalTableRestore(old.Status.State) || !finalTableRestore(r.Status.State) {
		return
	}
	result := strings.ToLower(string(r.Status.State))
	if d, ok := runSeconds(r.Status.StartTime, r.Status.CompletionTime, t.now()); ok {
		t.duration.WithLabelValues(r.Namespace, result).Observe(d)
	}
	var bytes int64
	for _, n := range r.Status.Nodes {
		bytes += n.BytesDone
	}
	t.size.WithLabelValues(r.Namespace, result).Observe(float64(bytes))
}
