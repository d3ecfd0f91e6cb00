// Package informers wires the shared informer factories the operator runs on: the
// project's kinds, pods of Cassandra datacenters (filtered by label, so the operator's
// memory does not grow with unrelated pods) and restore-plan ConfigMaps (filtered the
// same way), over all namespaces or a chosen few. There is no informer on Secrets: they
// are read on demand, at the moment of use.
package informers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/informers/externalversions"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

// DefaultPodSelector selects the pods of Cassandra datacenters run by Instaclustr's
// operator, the labels the guide's setup uses.
const DefaultPodSelector = "cassandra-operator.instaclustr.com/datacenter"

// PlanLabel marks the ConfigMaps holding restore plans.
const PlanLabel = "cassandraoperator.instaclustr.com/restore-plan"

// Config says what the informers watch. The zero value watches all namespaces, the pods
// selected by DefaultPodSelector and the ConfigMaps carrying PlanLabel, with no resync.
type Config struct {
	// Namespaces to watch; all namespaces when empty.
	Namespaces []string
	// PodSelector is a label selector for the pods to cache; DefaultPodSelector when empty.
	PodSelector string
	// ConfigMapSelector is a label selector for the ConfigMaps to cache; PlanLabel when empty.
	ConfigMapSelector string
	// Resync is how often every cached object is handed to the handlers again; never when 0.
	Resync time.Duration
}

// Informer is the part of a shared informer a controller needs: events, a synced check
// and the cache. Over several namespaces it stands for one informer per namespace.
type Informer interface {
	// AddEventHandler registers a handler for adds, updates and deletes.
	AddEventHandler(cache.ResourceEventHandler) error
	// HasSynced reports whether the initial list has been delivered.
	HasSynced() bool
	// Indexer is the informer's cache.
	Indexer() cache.Indexer
}

// Set is the operator's informers: build controllers from them, then Start.
type Set struct {
	namespaces []string
	backups    Informer
	dcs        Informer
	pods       Informer
	configMaps Informer
	starters   []interface {
		Start(<-chan struct{})
		Shutdown()
	}
}

// New creates the informers; nothing runs until Start.
func New(kubeClient kubernetes.Interface, client versioned.Interface, cfg Config) *Set {
	if cfg.PodSelector == "" {
		cfg.PodSelector = DefaultPodSelector
	}
	if cfg.ConfigMapSelector == "" {
		cfg.ConfigMapSelector = PlanLabel
	}
	namespaces := cfg.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	s := &Set{namespaces: namespaces}
	var backups, dcs, pods, cms []cache.SharedIndexInformer
	for _, ns := range namespaces {
		own := externalversions.NewSharedInformerFactoryWithOptions(client, cfg.Resync, externalversions.WithNamespace(ns))
		podFactory := kubeinformers.NewSharedInformerFactoryWithOptions(kubeClient, cfg.Resync,
			kubeinformers.WithNamespace(ns),
			kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = cfg.PodSelector }))
		cmFactory := kubeinformers.NewSharedInformerFactoryWithOptions(kubeClient, cfg.Resync,
			kubeinformers.WithNamespace(ns),
			kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = cfg.ConfigMapSelector }))
		backups = append(backups, own.Cassandraoperator().V1alpha1().CassandraBackups().Informer())
		dcs = append(dcs, own.Cassandraoperator().V1alpha1().CassandraDataCenters().Informer())
		pods = append(pods, podFactory.Core().V1().Pods().Informer())
		cms = append(cms, cmFactory.Core().V1().ConfigMaps().Informer())
		s.starters = append(s.starters, own, podFactory, cmFactory)
	}
	s.backups, s.dcs, s.pods, s.configMaps = combine(backups), combine(dcs), combine(pods), combine(cms)
	return s
}

// CassandraBackups is the informer of CassandraBackups.
func (s *Set) CassandraBackups() Informer { return s.backups }

// CassandraBackupLister lists CassandraBackups from the cache.
func (s *Set) CassandraBackupLister() listers.CassandraBackupLister {
	return listers.NewCassandraBackupLister(s.backups.Indexer())
}

// CassandraDataCenters is the informer of CassandraDataCenters.
func (s *Set) CassandraDataCenters() Informer { return s.dcs }

// CassandraDataCenterLister lists CassandraDataCenters from the cache.
func (s *Set) CassandraDataCenterLister() listers.CassandraDataCenterLister {
	return listers.NewCassandraDataCenterLister(s.dcs.Indexer())
}

// Pods is the informer of the selected pods.
func (s *Set) Pods() Informer { return s.pods }

// PodLister lists the selected pods from the cache.
func (s *Set) PodLister() corelisters.PodLister { return corelisters.NewPodLister(s.pods.Indexer()) }

// ConfigMaps is the informer of the selected ConfigMaps.
func (s *Set) ConfigMaps() Informer { return s.configMaps }

// ConfigMapLister lists the selected ConfigMaps from the cache.
func (s *Set) ConfigMapLister() corelisters.ConfigMapLister {
	return corelisters.NewConfigMapLister(s.configMaps.Indexer())
}

// Start runs every informer that was asked for, until ctx ends.
func (s *Set) Start(ctx context.Context) {
	for _, f := range s.starters {
		f.Start(ctx.Done())
	}
}

// Shutdown waits for the informers to stop after ctx ended.
func (s *Set) Shutdown() {
	for _, f := range s.starters {
		f.Shutdown()
	}
}

// WaitForCacheSync blocks until every informer has synced or ctx ends; false means ctx ended.
func (s *Set) WaitForCacheSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), s.backups.HasSynced, s.dcs.HasSynced, s.pods.HasSynced, s.configMaps.HasSynced)
}

// Synced reports whether every informer has synced.
func (s *Set) Synced() bool {
	return s.backups.HasSynced() && s.dcs.HasSynced() && s.pods.HasSynced() && s.configMaps.HasSynced()
}
