package metrics

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2/textlogger"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

func backup(name string, state v1alpha1.BackupState, start, end int64, bytes ...int64) *v1alpha1.CassandraBackup {
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name},
		Spec:   v1alpha1.CassandraBackupSpec{Cluster: "c1", Datacenter: "dc1"},
		Status: v1alpha1.CassandraBackupStatus{State: state}}
	if start > 0 {
		b.Status.StartTime = &metav1.Time{Time: time.Unix(start, 0)}
	}
	if end > 0 {
		b.Status.CompletionTime = &metav1.Time{Time: time.Unix(end, 0)}
	}
	for i, n := range bytes {
		b.Status.Nodes = append(b.Status.Nodes, v1alpha1.NodeBackupStatus{Node: string(rune('a' + i)), BytesTotal: n, Message: "disk full"})
	}
	return b
}

// The gauges come from the cache and only while leading; a final transition is observed
// once (a resync, old and new both final, adds nothing) and logged as one line.
func TestMetricsFromCacheAndTransitions(t *testing.T) {
	backups := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	dcs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	done := backup("b1", v1alpha1.BackupCompleted, 100, 160, 1000, 24)
	older := backup("b0", v1alpha1.BackupCompleted, 10, 50)
	running := backup("b2", v1alpha1.BackupRunning, 200, 0)
	for _, b := range []*v1alpha1.CassandraBackup{done, older, running} {
		backups.Add(b)
	}
	var active atomic.Bool
	reg := prometheus.NewRegistry()
	col := &collector{backups: listers.NewCassandraBackupLister(backups), dcs: listers.NewCassandraDataCenterLister(dcs), active: &active}
	tr := newTransitions(&active, func() time.Time { return time.Unix(1000, 0) })
	reg.MustRegister(append(tr.collectors(), col)...)
	var logs bytes.Buffer
	logger := textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(&logs)))
	tr.logger.Store(&logger)

	if n, _ := testutil.GatherAndCount(reg, Backups, LastSuccess); n != 0 {
		t.Fatalf("a follower exports %d series, want none", n)
	}
	active.Store(true)
	want := `
# HELP cassandra_backup_backups CassandraBackups by namespace and state.
# TYPE cassandra_backup_backups gauge
cassandra_backup_backups{namespace="db",state="CANCELLED"} 0
cassandra_backup_backups{namespace="db",state="COMPLETED"} 2
cassandra_backup_backups{namespace="db",state="FAILED"} 0
cassandra_backup_backups{namespace="db",state="PENDING"} 0
cassandra_backup_backups{namespace="db",state="RUNNING"} 1
# HELP cassandra_backup_last_success_timestamp_seconds Completion time of the newest completed CassandraBackup per namespace, cluster and datacenter, in Unix seconds.
# TYPE cassandra_backup_last_success_timestamp_seconds gauge
cassandra_backup_last_success_timestamp_seconds{cluster="c1",datacenter="dc1",namespace="db"} 160
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), Backups, LastSuccess); err != nil {
		t.Error(err)
	}

	tr.backup(backup("b1", v1alpha1.BackupRunning, 100, 0), done)
	tr.backup(done, done) // resync
	failed := backup("b2", v1alpha1.BackupFailed, 200, 230, 5)
	tr.backup(running, failed)
	wantHist := map[string]float64{"completed": 60, "failed": 30}
	for result, sum := range wantHist {
		h := tr.duration.WithLabelValues("db", "c1", "dc1", result).(prometheus.Histogram)
		var m = &dtoMetric{}
		m.read(t, h)
		if m.count != 1 || m.sum != sum {
			t.Errorf("duration{result=%s}: count %d sum %v, want 1 and %v", result, m.count, m.sum, sum)
		}
	}
	size := &dtoMetric{}
	size.read(t, tr.size.WithLabelValues("db", "c1", "dc1").(prometheus.Histogram))
	if size.count != 1 || size.sum != 1024 {
		t.Errorf("size: count %d sum %v, want one backup of 1024 bytes", size.count, size.sum)
	}
	out := logs.String()
	if n := strings.Count(out, "Backup state changed"); n != 2 {
		t.Errorf("%d state-change lines, want 2:\n%s", n, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "E") || !strings.Contains(last, `err="a: disk full"`) || !strings.Contains(last, `object="db/b2"`) {
		t.Errorf("the failure is not an error line with the object and the node's message:\n%s", out)
	}
}
