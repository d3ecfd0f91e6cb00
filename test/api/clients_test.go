package api_test

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// The typed clientset creates, gets, lists, watches and updates status; the status
// subresource ignores spec changes and the main resource ignores status changes.
func TestClientset(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	ctx := t.Context()
	backups := versioned.NewForConfigOrDie(cp.Config()).CassandraoperatorV1alpha1().CassandraBackups(ns)

	w, err := backups.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	created, err := backups.Create(ctx, newBackup("b1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.ConcurrentConnections != 10 || created.Generation != 1 {
		t.Errorf("created = %+v", created)
	}
	expectEvent(t, w, watch.Added, "b1")

	got, err := backups.Get(ctx, "b1", metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("get: %v, %v", got, err)
	}
	if _, err := backups.Create(ctx, newBackup("b2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := backups.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("list: %d items, %v", len(list.Items), err)
	}
	expectEvent(t, w, watch.Added, "b2")

	now := metav1.NewTime(time.Now().Truncate(time.Second))
	got.Status = v1alpha1.CassandraBackupStatus{
		State: v1alpha1.BackupRunning, Progress: "10%", Snapshot: "mySnapshotTag", StartTime: &now, ObservedGeneration: 1,
		Nodes:      []v1alpha1.NodeBackupStatus{{Node: "pod-0", Rack: "a", HostID: "h0", State: v1alpha1.BackupRunning, BytesTotal: 100, BytesUploaded: 10, FilesTotal: 4, OperationID: "op-1"}},
		Conditions: []metav1.Condition{{Type: reconciler.TypeSynced, Status: metav1.ConditionTrue, Reason: "ReconcileSuccess", LastTransitionTime: now}},
	}
	got.Spec.Secret = "ignored-by-status-subresource"
	updated, err := backups.UpdateStatus(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Spec.Secret != "" || updated.Status.Nodes[0].BytesUploaded != 10 || updated.Generation != 1 {
		t.Errorf("after UpdateStatus: spec.secret=%q status=%+v generation=%d", updated.Spec.Secret, updated.Status, updated.Generation)
	}
	expectEvent(t, w, watch.Modified, "b1")

	updated.Spec.Secret = "cloud-backup-secrets"
	updated.Status.State = v1alpha1.BackupFailed
	specUpdated, err := backups.Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if specUpdated.Status.State != v1alpha1.BackupRunning || specUpdated.Generation != 2 {
		t.Errorf("Update changed status or kept generation: %+v", specUpdated)
	}
	expectEvent(t, w, watch.Modified, "b1")

	if err := backups.Delete(ctx, "b2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, w, watch.Deleted, "b2")
	if _, err := backups.Get(ctx, "b2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get deleted: %v", err)
	}
}

func expectEvent(t *testing.T, w watch.Interface, typ watch.EventType, name string) {
	t.Helper()
	select {
	case ev := <-w.ResultChan():
		b, ok := ev.Object.(*v1alpha1.CassandraBackup)
		if ev.Type != typ || !ok || b.Name != name {
			t.Fatalf("watch event %s %T, want %s of %s", ev.Type, ev.Object, typ, name)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s event for %s", typ, name)
	}
}

// The informers of pkg/informers, over one namespace or several, see objects and their
// changes; listers read them; pods are cached only when they carry the datacenter label.
func TestInformersAndListers(t *testing.T) {
	cp := controlplane.Shared(t)
	ns1, ns2, other := cp.Namespace(t), cp.Namespace(t), cp.Namespace(t)
	ctx, cancel := context.WithCancel(t.Context())
	client := versioned.NewForConfigOrDie(cp.Config())
	kube := kubernetes.NewForConfigOrDie(cp.Config())

	for _, tc := range []struct {
		name       string
		namespaces []string
	}{{"one namespace", []string{ns1}}, {"two namespaces", []string{ns1, ns2}}} {
		t.Run(tc.name, func(t *testing.T) {
			set := informers.New(kube, client, informers.Config{Namespaces: tc.namespaces})
			added := make(chan string, 100)
			if err := set.CassandraBackups().AddEventHandler(handlerFunc(func(obj any) {
				added <- obj.(*v1alpha1.CassandraBackup).Namespace + "/" + obj.(*v1alpha1.CassandraBackup).Name
			})); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(ctx)
			defer set.Shutdown()
			defer cancel()
			set.Start(ctx)
			if !set.WaitForCacheSync(ctx) {
				t.Fatal("caches did not sync")
			}
			for _, ns := range append(tc.namespaces, other) {
				if _, err := client.CassandraoperatorV1alpha1().CassandraBackups(ns).Create(ctx, newBackup("b-"+tc.name[:3]), metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			lister := set.CassandraBackupLister()
			for _, ns := range tc.namespaces {
				waitFor(t, func() bool {
					b, err := lister.CassandraBackups(ns).Get("b-" + tc.name[:3])
					return err == nil && b.Namespace == ns
				})
			}
			all, err := lister.List(labels.Everything())
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range all {
				if b.Namespace == other {
					t.Errorf("informer of %v cached %s/%s", tc.namespaces, b.Namespace, b.Name)
				}
			}
			// A status change reaches the cache.
			b, _ := lister.CassandraBackups(tc.namespaces[0]).Get("b-" + tc.name[:3])
			b = b.DeepCopy()
			b.Status.State = v1alpha1.BackupCompleted
			if _, err := client.CassandraoperatorV1alpha1().CassandraBackups(b.Namespace).UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool {
				got, err := lister.CassandraBackups(b.Namespace).Get(b.Name)
				return err == nil && got.Status.State == v1alpha1.BackupCompleted
			})
			if n := len(added); n < len(tc.namespaces) {
				t.Errorf("event handler saw %d adds, want at least %d", n, len(tc.namespaces))
			}
		})
	}

	// Pods: only labelled ones are cached.
	set := informers.New(kube, client, informers.Config{Namespaces: []string{ns1}})
	set.Start(ctx)
	defer set.Shutdown()
	defer cancel()
	if !set.WaitForCacheSync(ctx) {
		t.Fatal("caches did not sync")
	}
	for name, lbls := range map[string]map[string]string{
		"cassandra-0": {"cassandra-operator.instaclustr.com/datacenter": "dc1"},
		"unrelated-0": {"app": "web"},
	} {
		pod := podSpec(name, lbls)
		if _, err := kube.CoreV1().Pods(ns1).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { _, err := set.PodLister().Pods(ns1).Get("cassandra-0"); return err == nil })
	if _, err := set.PodLister().Pods(ns1).Get("unrelated-0"); !apierrors.IsNotFound(err) {
		t.Errorf("unlabelled pod is cached: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		t.Fatal("condition not reached in 30s")
	}
}

type handlerFunc func(obj any)

func (f handlerFunc) OnAdd(obj any, _ bool) { f(obj) }
func (f handlerFunc) OnUpdate(_, _ any)     {}
func (f handlerFunc) OnDelete(any)          {}
