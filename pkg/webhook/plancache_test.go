package webhook

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// Many restores over time (each plan ConfigMap a new uid) keep at most MaxDecodedPlans
// plans decoded; the ones kept are still served from the cache.
func TestDecodedPlansBounded(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	l := &CacheLookup{ConfigMaps: corelisters.NewConfigMapLister(indexer), MaxDecodedPlans: 8}
	var dcs []*v1alpha1.CassandraDataCenter
	for i := range 100 {
		dc := testDC(true)
		dc.Name, dc.UID = fmt.Sprintf("dc-%d", i), types.UID(fmt.Sprintf("dc-uid-%d", i))
		cm, err := testPlan(t, dc, "b1").ConfigMap(dc)
		if err != nil {
			t.Fatal(err)
		}
		cm.UID, cm.ResourceVersion = types.UID(fmt.Sprintf("cm-uid-%d", i)), "1"
		indexer.Add(cm)
		dcs = append(dcs, dc)
		if p, err := l.Plan(dc); err != nil || p == nil || p.Backup != "b1" {
			t.Fatalf("plan of %s: %v, %v", dc.Name, p, err)
		}
		if n := l.decoded.len(); n > 8 {
			t.Fatalf("%d plans decoded and kept after %d restores, want at most 8", n, i+1)
		}
	}
	last := dcs[len(dcs)-1]
	first, _ := l.Plan(last)
	if again, _ := l.Plan(last); again != first {
		t.Errorf("a kept plan decoded again")
	}
	// An evicted plan is decoded again, the same.
	if p, err := l.Plan(dcs[0]); err != nil || p == nil || p.Backup != "b1" {
		t.Errorf("evicted plan: %v, %v", p, err)
	}
}
