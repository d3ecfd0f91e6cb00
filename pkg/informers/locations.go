package informers

import (
	"k8s.io/client-go/tools/cache"

	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

// CassandraBackupLocations is the informer of CassandraBackupLocations, made on the first
// call. Call it before Start.
func (s *Set) CassandraBackupLocations() Informer {
	if s.locations == nil {
		var infs []cache.SharedIndexInformer
		for _, f := range s.own {
			infs = append(infs, f.Cassandraoperator().V1alpha1().CassandraBackupLocations().Informer())
		}
		s.locations = combine(infs)
	}
	return s.locations
}

// CassandraBackupLocationLister lists CassandraBackupLocations from the cache.
func (s *Set) CassandraBackupLocationLister() listers.CassandraBackupLocationLister {
	return listers.NewCassandraBackupLocationLister(s.CassandraBackupLocations().Indexer())
}
