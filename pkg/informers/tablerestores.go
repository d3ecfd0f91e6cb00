package informers

import (
	"k8s.io/client-go/tools/cache"

	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

// CassandraRestores is the informer of CassandraRestores, made on the first call: an
// operator without the table-restore controller does not watch them. Call it before Start.
func (s *Set) CassandraRestores() Informer {
	if s.tableRestores == nil {
		var infs []cache.SharedIndexInformer
		for _, f := range s.own {
			infs = append(infs, f.Cassandraoperator().V1alpha1().CassandraRestores().Informer())
		}
		s.tableRestores = combine(infs)
	}
	return s.tableRestores
}

// CassandraRestoreLister lists CassandraRestores from the cache.
func (s *Set) CassandraRestoreLister() listers.CassandraRestoreLister {
	return listers.NewCassandraRestoreLister(s.CassandraRestores().Indexer())
}
