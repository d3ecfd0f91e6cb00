package backup_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// namespaceDeadline bounds a namespace's deletion by kube-controller-manager's namespace
// controller once nothing holds it.
const namespaceDeadline = 90 * time.Second

// TestNamespaceDeletionSecretGone deletes the namespace of a COMPLETED Delete-policy
// backup whose Secret is already gone, on a control plane with kube-controller-manager:
// the namespace finishes deleting, a Warning event says the remote backup is retained,
// and the bucket still holds it. Before that, the same backup deleted while its namespace
// lives keeps its finalizer: a Secret missing outside namespace deletion may come back.
func TestNamespaceDeletionSecretGone(t *testing.T) {
	ctx := context.Background()
	cp, err := controlplane.Start(ctx, controlplane.Options{ControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	e := newEnvOn(t, cp, s3Server(t))
	var mu sync.Mutex
	var recorded []corev1.Event
	e.onEvent = func(ev *corev1.Event) {
		mu.Lock()
		defer mu.Unlock()
		recorded = append(recorded, *ev)
	}
	e.secret(secretName, nil)
	e.startNode("dc1-a-0", "dc1", "a", 90, 20_000)
	e.startOperator(backup.Options{})

	s := spec("dc1", "doomed")
	s.DeletionPolicy = v1alpha1.DeletionPolicyDelete
	e.create("doomed", s)
	e.waitFor("doomed", "COMPLETED", completed)
	before := e.bucketKeys("")
	if len(e.bucketKeys("topology/"+cluster+"-doomed-")) == 0 {
		t.Fatalf("no topology of the backup in the bucket: %v", before)
	}

	if err := e.kube.CoreV1().Secrets(e.ns).Delete(ctx, secretName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace lives: the Secret may come back, so the finalizer is held.
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second) // several looks at the Secret (MaxSecretBackoff is 2 s)
	if b := e.get("doomed"); b.DeletionTimestamp == nil || len(b.Finalizers) == 0 {
		t.Fatalf("a Delete-policy backup whose Secret is missing in a live namespace was released: %+v", b.ObjectMeta)
	}

	start := time.Now()
	if err := e.kube.CoreV1().Namespaces().Delete(ctx, e.ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := e.kube.CoreV1().Namespaces().Get(ctx, e.ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Since(start) > namespaceDeadline {
			var finalizers []string
			var conditions []metav1.Condition
			if b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Get(ctx, "doomed", metav1.GetOptions{}); err == nil {
				finalizers, conditions = b.Finalizers, b.Status.Conditions
			}
			t.Fatalf("namespace %s still exists %s after its deletion (err %v); the backup's finalizers %v, conditions %+v",
				e.ns, namespaceDeadline, err, finalizers, conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("namespace deleted in %s", time.Since(start).Round(100*time.Millisecond))

	mu.Lock()
	var warned bool
	for _, ev := range recorded {
		if ev.InvolvedObject.Name == "doomed" && ev.Type == corev1.EventTypeWarning && ev.Reason == backup.ReasonRemoteBackupRetained {
			warned = true
			if !strings.Contains(ev.Message, "doomed") || !strings.Contains(ev.Message, "s3://"+bucket) {
				t.Errorf("the event does not name the snapshot and location: %q", ev.Message)
			}
		}
	}
	mu.Unlock()
	if !warned {
		t.Errorf("no Warning %s event among %d recorded", backup.ReasonRemoteBackupRetained, len(recorded))
	}
	if after := e.bucketKeys(""); !slices.Equal(before, after) {
		t.Errorf("the bucket changed: %d keys before, %d after", len(before), len(after))
	}
}
