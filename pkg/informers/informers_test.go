package informers

import (
	"context"
	"testing"

	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/fake"
)

// Every informer made on demand counts for Synced once it exists, the CassandraRestores'
// too (it was left out): the operator's readiness waits for all the caches it reads.
func TestSyncedCountsInformersMadeOnDemand(t *testing.T) {
	s := New(kubefake.NewClientset(), fake.NewSimpleClientset(), Config{})
	base := len(s.synced())
	s.CassandraBackupSchedules()
	s.CassandraBackupVerifications()
	s.CassandraRestores()
	s.CassandraBackupLocations()
	if got := len(s.synced()); got != base+4 {
		t.Fatalf("%d informers counted after 4 made on demand, want %d", got, base+4)
	}
	if s.Synced() {
		t.Fatal("synced before the informers started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Shutdown() }()
	s.Start(ctx)
	if !s.WaitForCacheSync(ctx) || !s.Synced() {
		t.Fatal("the caches did not sync")
	}
}
