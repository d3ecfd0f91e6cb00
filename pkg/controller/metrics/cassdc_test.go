package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/fake"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
)

// cassDatacenter is a cass-operator CassandraDatacenter of cluster c1 without
// spec.datacenterName, restoring b1, with the restore status annotation in state.
func cassDatacenter(name string, created time.Time, state v1alpha1.RestoreState) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cassdc.GVR.GroupVersion().String(), "kind": cassdc.Kind,
		"spec": map[string]any{"clusterName": "c1", "size": int64(3)},
	}}
	u.SetNamespace("db")
	u.SetName(name)
	u.SetCreationTimestamp(metav1.NewTime(created))
	ann := map[string]string{cassdc.AnnotationRestoreFrom: "b1"}
	if state != "" {
		ann[cassdc.AnnotationRestoreStatus] = fmt.Sprintf(`{"state":%q,"backupName":"b1"}`, state)
	}
	u.SetAnnotations(ann)
	return u
}

// A restore asked for by the annotation on cass-operator's CassandraDatacenter exports
// what a CassandraDataCenter's does, scraped from the registry's HTTP handler: its state
// gauge while it runs, then COMPLETED with one restore duration observed (the object's
// creation to its end), labelled by its name when it has no spec.datacenterName; and one
// state-change line per transition.
func TestCassOperatorRestoreMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	created := time.Unix(1_000, 0)
	now := created.Add(90 * time.Second)
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{cassdc.GVR: cassdc.Kind + "List"})
	inf := informers.New(kubefake.NewClientset(), fake.NewSimpleClientset(),
		informers.Config{Kinds: informers.Kinds{NoCassandraDataCenters: true, CassOperatorDatacenters: true}, Dynamic: dyn})
	reg := prometheus.NewRegistry()
	c, err := NewWithClock(operator.Deps{Informers: inf, Registry: reg}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(&logs)))
	go c.Run(klog.NewContext(ctx, logger), 1)
	inf.Start(ctx)
	if !inf.WaitForCacheSync(ctx) {
		t.Fatal("caches did not sync")
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	res := dyn.Resource(cassdc.GVR).Namespace("db")
	if _, err := res.Create(ctx, cassDatacenter("dc1", created, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, state := range []v1alpha1.RestoreState{v1alpha1.RestoreRunning, v1alpha1.RestoreCompleted} {
		if _, err := res.Update(ctx, cassDatacenter("dc1", created, state), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`cassandra_backup_restore_state{cluster="c1",datacenter="dc1",namespace="db",state=%q} 1`, state)
		scrapeFor(t, srv.URL, want)
	}
	scrapeFor(t, srv.URL, `cassandra_backup_restore_duration_seconds_count{cluster="c1",datacenter="dc1",namespace="db",result="completed"} 1`,
		`cassandra_backup_restore_duration_seconds_sum{cluster="c1",datacenter="dc1",namespace="db",result="completed"} 90`)
	if n := strings.Count(logs.String(), `"Restore state changed"`); n != 2 {
		t.Errorf("%d state-change lines, want 2 (RUNNING, COMPLETED):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `kind="CassandraDatacenter"`) {
		t.Errorf("the lines do not name cass-operator's kind:\n%s", logs.String())
	}
}

// A datacenter described both by a CassandraDataCenter and a CassandraDatacenter is one
// series (a duplicate would fail the whole scrape).
func TestRestoreStateOncePerDatacenter(t *testing.T) {
	var active atomic.Bool
	active.Store(true)
	dcs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	cass := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	dcs.Add(&v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "dc1"},
		Spec:   v1alpha1.CassandraDataCenterSpec{Cluster: "c1", Datacenter: "dc1", Restore: &v1alpha1.RestoreSpec{BackupName: "b1"}},
		Status: v1alpha1.CassandraDataCenterStatus{Restore: &v1alpha1.RestoreStatus{State: v1alpha1.RestoreRunning}}})
	cass.Add(cassDatacenter("dc1", time.Unix(1, 0), v1alpha1.RestoreRunning))
	cass.Add(cassDatacenter("dc2", time.Unix(1, 0), v1alpha1.RestoreCompleted))
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{backups: listers.NewCassandraBackupLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})),
		dcs: listers.NewCassandraDataCenterLister(dcs), cassDCs: cass, active: &active})
	want := `
# HELP cassandra_backup_restore_state 1 for the current state of each datacenter's restore (a CassandraDataCenter's spec.restore, or a CassandraDatacenter's restore annotation).
# TYPE cassandra_backup_restore_state gauge
cassandra_backup_restore_state{cluster="c1",datacenter="dc1",namespace="db",state="RUNNING"} 1
cassandra_backup_restore_state{cluster="c1",datacenter="dc2",namespace="db",state="COMPLETED"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), RestoreState); err != nil {
		t.Error(err)
	}
}

// scrapeFor scrapes url until its text has every line of want.
func scrapeFor(t *testing.T, url string, want ...string) {
	t.Helper()
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		missing := false
		for _, w := range want {
			missing = missing || !strings.Contains(body, w+"\n")
		}
		if !missing {
			return
		}
	}
	t.Fatalf("the scrape lacks %q:\n%s", want, body)
}
