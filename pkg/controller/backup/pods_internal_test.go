package backup

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// TestStartProfiles finds a backup's pods by the labels of whichever profile its pods carry
// (cass-operator's here, Instaclustr's in the other tests), or of the profile its
// annotation names.
func TestStartProfiles(t *testing.T) {
	ext := &fakeExternal{ops: map[string]api.Operation{}, identity: func(pod *corev1.Pod) (api.Identity, error) {
		return api.Identity{HostID: "h-" + pod.Name, Cluster: "k", Datacenter: "dc1"}, nil
	}}
	c, _ := startEnv(t, ext)
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, name := range []string{"k-dc1-r2-sts-0", "k-dc1-r2-sts-1"} {
		pods.Add(&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{
				profile.CassOperatorCluster: "k", profile.CassOperatorDatacenter: "dc1", profile.CassOperatorRack: "r2"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1"},
		})
	}
	// An Instaclustr-labelled pod of another cluster with the same datacenter name.
	pods.Add(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cassandra-x-r1-0", Namespace: "ns", Labels: map[string]string{
			profile.InstaclustrCluster: "c", profile.InstaclustrDatacenter: "dc1"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1"},
	})
	c.pods = corelisters.NewPodLister(pods)

	b := newBackup()
	b.Spec.Cluster = "k"
	if err := startErr(t, c, b); err != nil {
		t.Fatal(err)
	}
	if len(b.Status.Nodes) != 2 || b.Status.Nodes[0].Node != "k-dc1-r2-sts-0" || b.Status.Nodes[0].Rack != "r2" {
		t.Errorf("nodes of a cass-operator datacenter: %+v", b.Status.Nodes)
	}

	// The annotation restricts the search to one profile.
	b = newBackup()
	b.Spec.Cluster = "k"
	b.Annotations = map[string]string{profile.Annotation: profile.Instaclustr}
	err := startErr(t, c, b)
	if reconciler.ReasonOf(err) != ReasonNoPods || !strings.Contains(err.Error(), profile.InstaclustrCluster+"=k") {
		t.Errorf("instaclustr annotation on a cass-operator datacenter: %v", err)
	}
	b.Annotations[profile.Annotation] = "nosuch"
	err = startErr(t, c, b)
	if reconciler.ReasonOf(err) != ReasonUnknownProfile || !errors.As(err, new(*reconciler.PermanentError)) {
		t.Errorf("unknown profile annotation: %v", err)
	}
}
