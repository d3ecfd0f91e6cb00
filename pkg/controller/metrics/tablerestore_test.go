package metrics

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

func tableRestore(name string, state v1alpha1.TableRestoreState, start, end int64, bytes ...int64) *v1alpha1.CassandraRestore {
	r := &v1alpha1.CassandraRestore{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name},
		Status: v1alpha1.CassandraRestoreStatus{State: state}}
	if start > 0 {
		r.Status.StartTime = &metav1.Time{Time: time.Unix(start, 0)}
	}
	if end > 0 {
		r.Status.CompletionTime = &metav1.Time{Time: time.Unix(end, 0)}
	}
	for _, n := range bytes {
		r.Status.Nodes = append(r.Status.Nodes, v1alpha1.NodeTableRestoreStatus{BytesDone: n})
	}
	return r
}

// CassandraRestores by state come from the cache, only while leading; an ended restore's
// duration and bytes are observed once (a resync adds nothing), by result.
func TestTableRestoreMetrics(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	done := tableRestore("r1", v1alpha1.TableRestoreCompleted, 100, 145, 1000, 24)
	running := tableRestore("r2", v1alpha1.TableRestoreRunning, 200, 0, 10)
	for _, r := range []*v1alpha1.CassandraRestore{done, running, tableRestore("r3", "", 0, 0)} {
		idx.Add(r)
	}
	var active atomic.Bool
	reg := prometheus.NewRegistry()
	tr := newTableRestores(listers.NewCassandraRestoreLister(idx), &active, func() time.Time { return time.Unix(1000, 0) })
	reg.MustRegister(tr.collectors()...)
	if n, _ := testutil.GatherAndCount(reg, TableRestores); n != 0 {
		t.Fatalf("a follower exports %d series, want none", n)
	}
	tr.observe(tableRestore("r1", v1alpha1.TableRestoreRunning, 100, 0), done)
	if n, _ := testutil.GatherAndCount(reg, TableRestoreDuration); n != 0 {
		t.Fatal("a follower observed an ended restore")
	}
	active.Store(true)
	want := `
# HELP cassandra_backup_table_restores CassandraRestores by namespace and state.
# TYPE cassandra_backup_table_restores gauge
cassandra_backup_table_restores{namespace="db",state="CANCELLED"} 0
cassandra_backup_table_restores{namespace="db",state="COMPLETED"} 1
cassandra_backup_table_restores{namespace="db",state="FAILED"} 0
cassandra_backup_table_restores{namespace="db",state="PENDING"} 1
cassandra_backup_table_restores{namespace="db",state="RUNNING"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), TableRestores); err != nil {
		t.Error(err)
	}
	tr.observe(tableRestore("r1", v1alpha1.TableRestoreRunning, 100, 0), done)
	tr.observe(done, done) // resync
	tr.observe(running, tableRestore("r2", v1alpha1.TableRestoreFailed, 200, 230, 10))
	for _, tc := range []struct {
		result     string
		sum, bytes float64
	}{{"completed", 45, 1024}, {"failed", 30, 10}} {
		d, s := &dtoMetric{}, &dtoMetric{}
		d.read(t, tr.duration.WithLabelValues("db", tc.result).(prometheus.Histogram))
		s.read(t, tr.size.WithLabelValues("db", tc.result).(prometheus.Histogram))
		if d.count != 1 || d.sum != tc.sum || s.count != 1 || s.sum != tc.bytes {
			t.Errorf("%s: duration count %d sum %v, size count %d sum %v; want 1, %v, 1, %v", tc.result, d.count, d.sum, s.count, s.sum, tc.sum, tc.bytes)
		}
	}
}
