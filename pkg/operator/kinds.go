package operator

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// Backups returns reconciler options for CassandraBackups, filled from d: informer,
// cache, client, conditions, observedGeneration, events and metrics. Set Name and
// Handlers, then call reconciler.New.
func (d Deps) Backups() reconciler.Options[*v1alpha1.CassandraBackup] {
	lister := d.Informers.CassandraBackupLister()
	return reconciler.Options[*v1alpha1.CassandraBackup]{
		Informer: d.Informers.CassandraBackups(),
		Get: func(ns, name string) (*v1alpha1.CassandraBackup, error) {
			return lister.CassandraBackups(ns).Get(name)
		},
		Client: func(ns string) reconciler.Patcher[*v1alpha1.CassandraBackup] {
			return d.Client.CassandraoperatorV1alpha1().CassandraBackups(ns)
		},
		Conditions:         func(b *v1alpha1.CassandraBackup) *[]metav1.Condition { return &b.Status.Conditions },
		ObservedGeneration: func(b *v1alpha1.CassandraBackup) *int64 { return &b.Status.ObservedGeneration },
		Recorder:           d.Recorder,
		Metrics:            d.Metrics,
		QueueMetrics:       d.queueMetrics(),
	}
}

// DataCenters returns reconciler options for CassandraDataCenters, filled from d. The
// essence is spec.restore only, datacenters without a restore are left alone, and
// conditions and observedGeneration live in status.restore: the reconciler writes
// nothing else, so another operator's fields are kept.
func (d Deps) DataCenters() reconciler.Options[*v1alpha1.CassandraDataCenter] {
	lister := d.Informers.CassandraDataCenterLister()
	restore := func(dc *v1alpha1.CassandraDataCenter) *v1alpha1.RestoreStatus {
		if dc.Status.Restore == nil {
			if dc.Spec.Restore == nil {
				return nil
			}
			dc.Status.Restore = &v1alpha1.RestoreStatus{}
		}
		return dc.Status.Restore
	}
	return reconciler.Options[*v1alpha1.CassandraDataCenter]{
		Informer: d.Informers.CassandraDataCenters(),
		Get: func(ns, name string) (*v1alpha1.CassandraDataCenter, error) {
			return lister.CassandraDataCenters(ns).Get(name)
		},
		Client: func(ns string) reconciler.Patcher[*v1alpha1.CassandraDataCenter] {
			return d.Client.CassandraoperatorV1alpha1().CassandraDataCenters(ns)
		},
		Conditions: func(dc *v1alpha1.CassandraDataCenter) *[]metav1.Condition {
			if r := restore(dc); r != nil {
				return &r.Conditions
			}
			return nil
		},
		ObservedGeneration: func(dc *v1alpha1.CassandraDataCenter) *int64 {
			if r := restore(dc); r != nil {
				return &r.ObservedGeneration
			}
			return nil
		},
		Essence:      []string{"spec.restore"},
		Filter:       func(dc *v1alpha1.CassandraDataCenter) bool { return dc.Spec.Restore != nil },
		Recorder:     d.Recorder,
		Metrics:      d.Metrics,
		QueueMetrics: d.queueMetrics(),
	}
}

// queueMetrics returns d.QueueMetrics as a provider, and a nil interface (no metrics)
// when it is nil: a nil pointer in the interface would be called.
func (d Deps) queueMetrics() workqueue.MetricsProvider {
	if d.QueueMetrics == nil {
		return nil
	}
	return d.QueueMetrics
}

// StorageConfig is the base storage configuration of the controllers: the endpoint
// overrides from the flags. Credentials come from each backup's Secret.
func (d Deps) StorageConfig() storage.Config {
	return storage.Config{AzureEndpoint: d.Config.AzureEndpoint, GCSEndpoint: d.Config.GCSEndpoint}
}
