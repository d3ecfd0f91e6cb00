package reconciler

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	v1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/fake"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

// TestDataCenterOwnsOnlyRestore drives a CassandraDataCenter controller the way the
// restore controller will: its essence is spec.restore, only datacenters with a restore
// are handled, and its writes touch nothing but metadata and status.restore.
func TestDataCenterOwnsOnlyRestore(t *testing.T) {
	type dc = *v1.CassandraDataCenter
	client := fake.NewSimpleClientset()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	lister := listers.NewCassandraDataCenterLister(indexer)
	var seen []any
	c, err := New(Options[dc]{
		Name:     "restore",
		Informer: nopInformer{},
		Get:      func(ns, name string) (dc, error) { return lister.CassandraDataCenters(ns).Get(name) },
		Client:   func(ns string) Patcher[dc] { return client.CassandraoperatorV1alpha1().CassandraDataCenters(ns) },
		Conditions: func(d dc) *[]metav1.Condition {
			if d.Status.Restore == nil {
				if d.Spec.Restore == nil {
					return nil
				}
				d.Status.Restore = &v1.RestoreStatus{}
			}
			return &d.Status.Restore.Conditions
		},
		Essence: []string{"spec.restore"},
		Filter:  func(d dc) bool { return d.Spec.Restore != nil },
		Handlers: []Registration[dc]{
			OnField("backup", "spec.restore.backupName", func(_ context.Context, ev *Event[dc]) (Result, error) {
				seen = append(seen, ev.Old, ev.New)
				if ev.Object.Status.Restore == nil {
					ev.Object.Status.Restore = &v1.RestoreStatus{}
				}
				ev.Object.Status.Restore.State = v1.RestorePlanned
				return Result{}, nil
			}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	api := client.CassandraoperatorV1alpha1().CassandraDataCenters("ns")
	sync := func(name string) {
		t.Helper()
		obj, err := api.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := indexer.Update(obj); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Sync(ctx, cache.ObjectName{Namespace: "ns", Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []*v1.CassandraDataCenter{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "plain"}, Spec: v1.CassandraDataCenterSpec{Cluster: "c"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "restoring"}, Spec: v1.CassandraDataCenterSpec{Cluster: "c", Restore: &v1.RestoreSpec{BackupName: "b1"}}},
	} {
		if _, err := api.Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	sync("plain")
	if n := len(client.Actions()); n != 1 { // the Get above
		t.Errorf("a datacenter without restore caused %d calls", n-1)
	}
	client.ClearActions()
	sync("restoring")
	for _, a := range client.Actions() {
		pa, ok := a.(k8stesting.PatchAction)
		if !ok {
			continue
		}
		patch := string(pa.GetPatch())
		want := "metadata"
		if pa.GetSubresource() == "status" {
			want = "status"
			if !strings.HasPrefix(patch, `{"status":{"restore":{`) {
				t.Errorf("status patch %s is not limited to status.restore", patch)
			}
		}
		if keys := topKeys(t, patch); keys != want {
			t.Errorf("%s patch touches %s: %s", pa.GetSubresource(), keys, patch)
		}
	}
	if len(seen) != 2 || seen[0] != nil || seen[1] != "b1" {
		t.Errorf("field handler saw %v", seen)
	}
	// Another operator's spec change is not an update for us.
	d, _ := api.Get(ctx, "restoring", metav1.GetOptions{})
	d.Spec.Cluster = "renamed"
	d.Generation++
	if _, err := api.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	sync("restoring")
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" {
			if !strings.Contains(string(a.(k8stesting.PatchAction).GetPatch()), "observedGeneration") {
				t.Errorf("unexpected write after a foreign spec change: %s", a.(k8stesting.PatchAction).GetPatch())
			}
		}
	}
	d, _ = api.Get(ctx, "restoring", metav1.GetOptions{})
	d.Spec.Restore.BackupName = "b2"
	d.Generation++
	if _, err := api.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	sync("restoring")
	if len(seen) != 4 || seen[2] != "b1" || seen[3] != "b2" {
		t.Errorf("field handler saw %v, want b1 → b2", seen)
	}
}
