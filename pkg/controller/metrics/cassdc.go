package metrics

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
)

// A restore asked for by an annotation on cass-operator's CassandraDatacenter is planned
// and followed as a CassandraDataCenter (cassdc.View): it exports the same restore
// metrics, with the same labels, and logs the same state-change lines.

// view returns a cached CassandraDatacenter as its CassandraDataCenter view; false for
// anything else or a malformed spec (the restore controller reports that).
func view(obj any) (*v1alpha1.CassandraDataCenter, bool) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, false
	}
	dc, err := cassdc.View(u)
	return dc, err == nil
}

// views lists the views of the CassandraDatacenters in idx; none when idx is nil (their
// kind is not served).
func views(idx cache.Indexer) []*v1alpha1.CassandraDataCenter {
	if idx == nil {
		return nil
	}
	var out []*v1alpha1.CassandraDataCenter
	for _, obj := range idx.List() {
		if dc, ok := view(obj); ok {
			out = append(out, dc)
		}
	}
	return out
}

// datacenterLabel is the datacenter label of dc's restore metrics: spec.datacenter, or
// the object's name when it has none (as its pods are named; cass-operator's
// spec.datacenterName is optional).
func datacenterLabel(dc *v1alpha1.CassandraDataCenter) string {
	if dc.Spec.Datacenter != "" {
		return dc.Spec.Datacenter
	}
	return dc.Name
}
