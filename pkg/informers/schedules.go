package informers

import (
	"k8s.io/client-go/tools/cache"

	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

// CassandraBackupSchedules is the informer of CassandraBackupSchedules, made on the first
// call: an operator without the schedule controller does not watch them. Call it before Start.
func (s *Set) CassandraBackupSchedules() Informer {
	if s.schedules == nil {
		var infs []cache.SharedIndexInformer
		for _, f := range s.own {
			infs = append(infs, f.Cassandraoperator().V1alpha1().CassandraBackupSchedules().Informer())
		}
		s.schedules = combine(infs)
	}
	return s.schedules
}

// CassandraBackupScheduleLister lists CassandraBackupSchedules from the cache.
func (s *Set) CassandraBackupScheduleLister() listers.CassandraBackupScheduleLister {
	return listers.NewCassandraBackupScheduleLister(s.CassandraBackupSchedules().Indexer())
}
