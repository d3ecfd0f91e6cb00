package informers

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
)

// Kinds says which optional kinds the API server serves. An informer on a kind the
// server does not serve never syncs and would hold the operator's start forever, so
// those kinds get an empty cache instead.
type Kinds struct {
	// NoCassandraDataCenters: our CassandraDataCenter CRD is not installed (a
	// cass-operator-only install); its informer is an empty, synced cache.
	NoCassandraDataCenters bool
	// CassOperatorDatacenters: cass-operator's CassandraDatacenter is served; it is
	// watched (with Config.Dynamic) for the annotation-driven restore.
	CassOperatorDatacenters bool
}

// Discover asks the API server's discovery which optional kinds it serves. It is asked
// once, at start: a CRD installed later is seen after a restart.
func Discover(disc discovery.DiscoveryInterface) (Kinds, error) {
	ours, err := served(disc, v1alpha1.SchemeGroupVersion.String(), "cassandradatacenters")
	if err != nil {
		return Kinds{}, err
	}
	theirs, err := served(disc, cassdc.GVR.GroupVersion().String(), cassdc.GVR.Resource)
	if err != nil {
		return Kinds{}, err
	}
	return Kinds{NoCassandraDataCenters: !ours, CassOperatorDatacenters: theirs}, nil
}

// served reports whether the API server serves resource in groupVersion.
func served(disc discovery.DiscoveryInterface, groupVersion, resource string) (bool, error) {
	list, err := disc.ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", groupVersion, err)
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}

// CassOperatorDatacenters is the informer of cass-operator's CassandraDatacenters, whose
// objects are *unstructured.Unstructured; nil when they are not watched.
func (s *Set) CassOperatorDatacenters() Informer { return s.cassDCs }

// HasCassandraDataCenters reports whether our CassandraDataCenter kind is watched.
func (s *Set) HasCassandraDataCenters() bool { return !s.kinds.NoCassandraDataCenters }

// cassOperatorInformer is the dynamic informer of cass-operator's CassandraDatacenters
// in ns.
func cassOperatorInformer(client dynamic.Interface, ns string, cfg Config) (cache.SharedIndexInformer, dynamicinformer.DynamicSharedInformerFactory) {
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, cfg.Resync, ns, func(*metav1.ListOptions) {})
	return f.ForResource(cassdc.GVR).Informer(), f
}

// absent is the informer of a kind the server does not serve: always synced, always empty.
type absent struct{ idx cache.Indexer }

func newAbsent() absent {
	return absent{cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})}
}

func (absent) AddEventHandler(cache.ResourceEventHandler) error { return nil }
func (absent) HasSynced() bool                                  { return true }
func (a absent) Indexer() cache.Indexer                         { return a.idx }
