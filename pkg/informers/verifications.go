package informers

import (
	"k8s.io/client-go/tools/cache"

	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

// CassandraBackupVerifications is the informer of CassandraBackupVerifications, made on
// the first call: an operator without the verification controller does not watch them.
// Call it before Start.
func (s *Set) CassandraBackupVerifications() Informer {
	if s.verifications == nil {
		var infs []cache.SharedIndexInformer
		for _, f := range s.own {
			infs = append(infs, f.Cassandraoperator().V1alpha1().CassandraBackupVerifications().Informer())
		}
		s.verifications = combine(infs)
	}
	return s.verifications
}

// CassandraBackupVerificationLister lists CassandraBackupVerifications from the cache.
func (s *Set) CassandraBackupVerificationLister() listers.CassandraBackupVerificationLister {
	return listers.NewCassandraBackupVerificationLister(s.CassandraBackupVerifications().Indexer())
}
