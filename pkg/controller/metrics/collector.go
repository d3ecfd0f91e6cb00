package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

var (
	backupsDesc     = prometheus.NewDesc(Backups, "CassandraBackups by namespace and state.", []string{"namespace", "state"}, nil)
	lastSuccessDesc = prometheus.NewDesc(LastSuccess, "Completion time of the newest completed CassandraBackup per namespace, cluster and datacenter, in Unix seconds.", []string{"namespace", "cluster", "datacenter"}, nil)
	restoreDesc     = prometheus.NewDesc(RestoreState, "1 for the current state of each datacenter's restore (a CassandraDataCenter's spec.restore, or a CassandraDatacenter's restore annotation).", []string{"namespace", "cluster", "datacenter", "state"}, nil)
)

// states are the backup states every namespace with a backup reports, so that a state
// going back to zero is a 0 and not a vanished series.
var states = []v1alpha1.BackupState{v1alpha1.BackupPending, v1alpha1.BackupRunning, v1alpha1.BackupCompleted, v1alpha1.BackupFailed, v1alpha1.BackupCancelled}

// collector computes the state gauges from the informer caches at each scrape, while
// active (this process leads).
type collector struct {
	backups listers.CassandraBackupLister
	dcs     listers.CassandraDataCenterLister
	// cassDCs caches cass-operator's CassandraDatacenters; nil when not watched.
	cassDCs cache.Indexer
	active  *atomic.Bool
}

// Describe sends the descriptors.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backupsDesc
	ch <- lastSuccessDesc
	ch <- restoreDesc
}

// Collect sends the gauges; nothing unless this process leads.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if !c.active.Load() {
		return
	}
	c.collectBackups(ch)
	c.collectRestores(ch)
}

type dcKey struct{ namespace, cluster, datacenter string }

func (c *collector) collectBackups(ch chan<- prometheus.Metric) {
	list, err := c.backups.List(labels.Everything())
	if err != nil {
		return
	}
	counts := map[string]map[v1alpha1.BackupState]int{}
	last := map[dcKey]float64{}
	for _, b := range list {
		if counts[b.Namespace] == nil {
			counts[b.Namespace] = map[v1alpha1.BackupState]int{}
		}
		state := b.Status.State
		if state == "" {
			state = v1alpha1.BackupPending
		}
		counts[b.Namespace][state]++
		if state == v1alpha1.BackupCompleted && b.Status.CompletionTime != nil {
			k := dcKey{b.Namespace, b.Spec.Cluster, b.Spec.Datacenter}
			last[k] = max(last[k], float64(b.Status.CompletionTime.Unix()))
		}
	}
	for ns, byState := range counts {
		for _, s := range states {
			ch <- prometheus.MustNewConstMetric(backupsDesc, prometheus.GaugeValue, float64(byState[s]), ns, string(s))
		}
	}
	for k, t := range last {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, t, k.namespace, k.cluster, k.datacenter)
	}
}

// collectRestores sends the state of the restores of CassandraDataCenters and of
// cass-operator's CassandraDatacenters; a datacenter both describe is sent once (the
// CassandraDataCenter's), since a series must be unique.
func (c *collector) collectRestores(ch chan<- prometheus.Metric) {
	list, err := c.dcs.List(labels.Everything())
	if err != nil {
		return
	}
	seen := map[dcKey]bool{}
	for _, dc := range append(list, views(c.cassDCs)...) {
		if dc.Spec.Restore == nil || dc.Status.Restore == nil || dc.Status.Restore.State == "" {
			continue
		}
		k := dcKey{dc.Namespace, dc.Spec.Cluster, datacenterLabel(dc)}
		if seen[k] {
			continue
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(restoreDesc, prometheus.GaugeValue, 1, k.namespace, k.cluster, k.datacenter, string(dc.Status.Restore.State))
	}
}
