// Package informers wires the shared informer factories the operator runs on: the
// project's kinds, pods of Cassandra datacenters (one informer per pod profile, filtered
// by the profile's datacenter label, so the operator's memory does not grow with
// unrelated pods) and restore-plan ConfigMaps (filtered the
// same way), over all namespaces or a chosen few. pkg/profile names the pod labels once,
// for the pod informers' selectors and their users. There is no informer on Secrets: they are
// read on demand, at the moment of use (pkg/secret).
package informers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/informers/externalversions"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

// Pod labels of Instaclustr's cassandra-operator, the labels the guide's setup uses
// (pkg/profile owns them).
const (
	// LabelCluster carries the Cassandra cluster name.
	LabelCluster = profile.InstaclustrCluster
	// LabelDatacenter carries the Cassandra datacenter name.
	LabelDatacenter = profile.InstaclustrDatacenter
	// LabelRack carries the Cassandra rack.
	LabelRack = profile.InstaclustrRack
)

// PodLabels names the labels that carry a Cassandra pod's cluster, datacenter and rack
// (profile.Labels): each profile's pod informer selects on its Datacenter label.
type PodLabels = profile.Labels

// Config says what the informers watch. The zero value watches all namespaces, the pods
// of every shipped profile (those that carry its datacenter label) and the ConfigMaps
// carrying plan.Label, with no resync.
type Config struct {
	// Namespaces to watch; all namespaces when empty.
	Namespaces []string
	// Profiles are the pod profiles; one pod informer per profile caches the pods that
	// carry its datacenter label (one label selector cannot match two label keys).
	Profiles profile.Registry
	// ConfigMapSelector is a label selector for the ConfigMaps to cache; plan.Label when empty.
	ConfigMapSelector string
	// Resync is how often every cached object is handed to the handlers again; never when 0.
	Resync time.Duration
	// Kinds are the optional kinds the server serves (Discover); the zero value watches
	// our CassandraDataCenters and not cass-operator's CassandraDatacenters.
	Kinds Kinds
	// Dynamic reads cass-operator's CassandraDatacenters when Kinds says they are served;
	// without it they are not watched.
	Dynamic dynamic.Interface
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
	profiles   profile.Registry
	backups    Informer
	dcs        Informer
	pods       Informer
	podsOf     map[string]Informer // by profile name
	configMaps Informer
	// own are the per-namespace factories of the project's kinds, for informers made on demand.
	own       []externalversions.SharedInformerFactory
	schedules Informer
	// verifications is made on demand (verifications.go).
	verifications Informer
	// tableRestores is made on demand (tablerestores.go).
	tableRestores Informer
	// locations is made on demand (locations.go).
	locations Informer
	kinds     Kinds
	cassDCs   Informer // nil unless Kinds.CassOperatorDatacenters
	starters  []interface {
		Start(<-chan struct{})
		Shutdown()
	}
}

// New creates the informers; nothing runs until Start.
func New(kubeClient kubernetes.Interface, client versioned.Interface, cfg Config) *Set {
	if cfg.ConfigMapSelector == "" {
		cfg.ConfigMapSelector = plan.Label
	}
	namespaces := cfg.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	s := &Set{namespaces: namespaces, profiles: cfg.Profiles, podsOf: map[string]Informer{}, kinds: cfg.Kinds}
	var backups, dcs, pods, cms, cassDCs []cache.SharedIndexInformer
	byProfile := map[string][]cache.SharedIndexInformer{}
	for _, ns := range namespaces {
		own := externalversions.NewSharedInformerFactoryWithOptions(client, cfg.Resync, externalversions.WithNamespace(ns))
		for _, p := range cfg.Profiles.All() {
			selector := p.Labels.OrDefault().Datacenter
			podFactory := kubeinformers.NewSharedInformerFactoryWithOptions(kubeClient, cfg.Resync,
				kubeinformers.WithNamespace(ns),
				kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
			inf := podFactory.Core().V1().Pods().Informer()
			pods = append(pods, inf)
			byProfile[p.Name] = append(byProfile[p.Name], inf)
			s.starters = append(s.starters, podFactory)
		}
		cmFactory := kubeinformers.NewSharedInformerFactoryWithOptions(kubeClient, cfg.Resync,
			kubeinformers.WithNamespace(ns),
			kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = cfg.ConfigMapSelector }))
		backups = append(backups, own.Cassandraoperator().V1alpha1().CassandraBackups().Informer())
		if !cfg.Kinds.NoCassandraDataCenters {
			dcs = append(dcs, own.Cassandraoperator().V1alpha1().CassandraDataCenters().Informer())
		}
		if cfg.Kinds.CassOperatorDatacenters && cfg.Dynamic != nil {
			inf, f := cassOperatorInformer(cfg.Dynamic, ns, cfg)
			cassDCs = append(cassDCs, inf)
			s.starters = append(s.starters, f)
		}
		cms = append(cms, cmFactory.Core().V1().ConfigMaps().Informer())
		s.starters = append(s.starters, own, cmFactory)
		s.own = append(s.own, own)
	}
	for name, infs := range byProfile {
		s.podsOf[name] = combine(infs)
	}
	s.backups, s.pods, s.configMaps = combine(backups), combine(pods), combine(cms)
	s.dcs = newAbsent()
	if len(dcs) > 0 {
		s.dcs = combine(dcs)
	}
	if len(cassDCs) > 0 {
		s.cassDCs = combine(cassDCs)
	}
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

// PodLabels are the default profile's pod labels.
func (s *Set) PodLabels() PodLabels { return s.profiles.DefaultProfile().Labels }

// Profiles are the pod profiles whose pods the informers cache.
func (s *Set) Profiles() profile.Registry { return s.profiles }

// Pods is the informer of the pods of every profile. A pod that carries the labels of two
// profiles is cached twice, and listed twice by PodLister.
func (s *Set) Pods() Informer { return s.pods }

// PodLister lists the pods of every profile from the cache.
func (s *Set) PodLister() corelisters.PodLister { return corelisters.NewPodLister(s.pods.Indexer()) }

// ProfilePodLister lists the pods of one profile (those that carry its datacenter label);
// nil for an unknown profile.
func (s *Set) ProfilePodLister(name string) corelisters.PodLister {
	inf, ok := s.podsOf[name]
	if !ok {
		return nil
	}
	return corelisters.NewPodLister(inf.Indexer())
}

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
	return cache.WaitForCacheSync(ctx.Done(), s.synced()...)
}

// synced returns the HasSynced funcs of every informer asked for: those made on demand
// (nil until then) and cass-operator's (nil when not watched) only once they exist.
func (s *Set) synced() []cache.InformerSynced {
	var fns []cache.InformerSynced
	for _, inf := range []Informer{s.backups, s.dcs, s.pods, s.configMaps,
		s.schedules, s.verifications, s.tableRestores, s.locations, s.cassDCs} {
		if inf != nil {
			fns = append(fns, inf.HasSynced)
		}
	}
	return fns
}

// Synced reports whether every informer has synced.
func (s *Set) Synced() bool {
	for _, fn := range s.synced() {
		if !fn() {
			return false
		}
	}
	return true
}
