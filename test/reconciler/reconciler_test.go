package reconciler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestCreateRunsHandlerOnce(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	cs := client(t, cp)
	c := newCalls()
	op := startOperator(t, cp, ns, options{}, reconciler.OnCreate("create", func(_ context.Context, ev *reconciler.Event[backup]) (reconciler.Result, error) {
		c.add(ev.Object.Name)
		ev.Object.Status.State = v1.BackupCompleted
		reconciler.SetCondition(&ev.Object.Status.Conditions, reconciler.Ready(true, "", "", ev.Object.Generation))
		return reconciler.Result{}, nil
	}))
	ctx := context.Background()
	if _, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Create(ctx, newBackup(ns, "b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := waitSynced(t, cs, ns, "b", metav1.ConditionTrue)
	if b.Status.State != v1.BackupCompleted || b.Status.ObservedGeneration != b.Generation {
		t.Errorf("status = %+v", b.Status)
	}
	if r := condition(b, reconciler.TypeReady); r == nil || r.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v", r)
	}
	// Wake the controller with changes that are not in the essence, and wait until it
	// has looked at them.
	for i := range 3 {
		before := op.passes()
		patch := `{"metadata":{"labels":{"touch":"` + string(rune('a'+i)) + `"}}}`
		if _, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Patch(ctx, "b", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a pass after the label change", func(context.Context) (bool, error) { return op.passes() > before, nil })
	}
	if n := c.get("b"); n != 1 {
		t.Errorf("create handler ran %d times, want 1", n)
	}
}

func TestFieldChangeSeesOldAndNew(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	cs := client(t, cp)
	c := newCalls()
	startOperator(t, cp, ns, options{},
		reconciler.OnCreate("create", func(context.Context, *reconciler.Event[backup]) (reconciler.Result, error) {
			return reconciler.Result{}, nil
		}),
		reconciler.OnField("entities", "spec.entities", func(_ context.Context, ev *reconciler.Event[backup]) (reconciler.Result, error) {
			c.add("entities", ev.Old, ev.New)
			return reconciler.Result{}, nil
		}),
	)
	ctx := context.Background()
	b := newBackup(ns, "b")
	b.Spec.Entities = "system_schema,ks1"
	if _, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSynced(t, cs, ns, "b", metav1.ConditionTrue)
	patch := `{"spec":{"entities":"system_schema,ks1,ks2"}}`
	if _, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Patch(ctx, "b", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "field handler called for the change", func(context.Context) (bool, error) { return c.get("entities") == 2, nil })
	got := c.values("entities")
	want := []any{nil, "system_schema,ks1", "system_schema,ks1", "system_schema,ks1,ks2"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("field handler saw (old, new) pairs %v, want %v", got, want)
		}
	}
	waitSynced(t, cs, ns, "b", metav1.ConditionTrue)
}

func TestDeleteHeldByFinalizerUntilHandlerSucceeds(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	cs := client(t, cp)
	c := newCalls()
	allow := make(chan struct{})
	startOperator(t, cp, ns, options{},
		reconciler.OnCreate("create", func(context.Context, *reconciler.Event[backup]) (reconciler.Result, error) {
			return reconciler.Result{}, nil
		}),
		reconciler.OnDelete("cleanup", func(_ context.Context, ev *reconciler.Event[backup]) (reconciler.Result, error) {
			c.add("delete")
			select {
			case <-allow:
				return reconciler.Result{}, nil
			default:
				return reconciler.Result{}, reconciler.Temporary(errors.New("remote backup still being removed"), 200*time.Millisecond)
			}
		}),
	)
	ctx := context.Background()
	api := cs.CassandraoperatorV1alpha1().CassandraBackups(ns)
	if _, err := api.Create(ctx, newBackup(ns, "b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := waitSynced(t, cs, ns, "b", metav1.ConditionTrue)
	if len(b.Finalizers) != 1 || b.Finalizers[0] != reconciler.DefaultDomain+"/test" {
		t.Fatalf("finalizers = %v", b.Finalizers)
	}
	if err := api.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delete handler retried", func(context.Context) (bool, error) { return c.get("delete") >= 3, nil })
	b, err := api.Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the object went away while its delete handler failed: %v", err)
	}
	if b.DeletionTimestamp == nil || len(b.Finalizers) != 1 {
		t.Errorf("deleting object: deletionTimestamp %v, finalizers %v", b.DeletionTimestamp, b.Finalizers)
	}
	eventually(t, "Ready=False Deleting and Synced=False with the handler's message", func(ctx context.Context) (bool, error) {
		b, err := api.Get(ctx, "b", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		r, s := condition(b, reconciler.TypeReady), condition(b, reconciler.TypeSynced)
		return r != nil && r.Reason == reconciler.ReasonDeleting && s != nil && s.Status == metav1.ConditionFalse &&
			strings.Contains(s.Message, "remote backup still being removed"), nil
	})
	close(allow)
	eventually(t, "object gone once the delete handler succeeded", func(ctx context.Context) (bool, error) {
		_, err := api.Get(ctx, "b", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func TestPermanentErrorNotRetriedUntilSpecChanges(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	cs := client(t, cp)
	c := newCalls()
	op := startOperator(t, cp, ns, options{resync: time.Second}, reconciler.OnCreate("validate", func(_ context.Context, ev *reconciler.Event[backup]) (reconciler.Result, error) {
		c.add("validate")
		if ev.Object.Spec.Entities == "" {
			return reconciler.Result{}, reconciler.Permanent(errors.New("entities must name system_schema"))
		}
		return reconciler.Result{}, nil
	}))
	ctx := context.Background()
	api := cs.CassandraoperatorV1alpha1().CassandraBackups(ns)
	if _, err := api.Create(ctx, newBackup(ns, "b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := waitSynced(t, cs, ns, "b", metav1.ConditionFalse)
	s := condition(b, reconciler.TypeSynced)
	if s.Reason != reconciler.ReasonReconcileError || !strings.Contains(s.Message, "entities must name system_schema") {
		t.Errorf("Synced = %+v", s)
	}
	// Several resyncs (every second) go by without another call.
	before := op.passes()
	eventually(t, "three resyncs", func(context.Context) (bool, error) { return op.passes() >= before+3, nil })
	if n := c.get("validate"); n != 1 {
		t.Fatalf("permanently failed handler called %d times before the spec changed, want 1", n)
	}
	patch := `{"spec":{"entities":"system_schema"}}`
	if _, err := api.Patch(ctx, "b", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitSynced(t, cs, ns, "b", metav1.ConditionTrue)
	if n := c.get("validate"); n != 2 {
		t.Errorf("handler called %d times after the spec changed, want 2", n)
	}
}

func TestTemporaryErrorRetriedAfterDelay(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	cs := client(t, cp)
	c := newCalls()
	const delay = 2 * time.Second
	startOperator(t, cp, ns, options{}, reconciler.OnCreate("flaky", func(_ context.Context, ev *reconciler.Event[backup]) (reconciler.Result, error) {
		if c.add("flaky") == 1 {
			return reconciler.Result{}, reconciler.Temporary(errors.New("agent not ready"), delay)
		}
		return reconciler.Result{}, nil
	}))
	ctx := context.Background()
	if _, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Create(ctx, newBackup(ns, "b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := waitSynced(t, cs, ns, "b", metav1.ConditionFalse)
	if s := condition(b, reconciler.TypeSynced); !strings.Contains(s.Message, "agent not ready") {
		t.Errorf("Synced = %+v", s)
	}
	waitSynced(t, cs, ns, "b", metav1.ConditionTrue)
	at := c.times("flaky")
	if len(at) != 2 {
		t.Fatalf("handler called %d times, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < delay {
		t.Errorf("retried after %v, before the %v delay", gap, delay)
	}
}

func TestResyncAtSteadyStateMakesNoWrites(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	cs := client(t, cp)
	const objects = 20
	op := startOperator(t, cp, ns, options{resync: time.Second}, reconciler.OnCreate("create", func(_ context.Context, ev *reconciler.Event[backup]) (reconciler.Result, error) {
		ev.Object.Status.State = v1.BackupCompleted
		reconciler.SetCondition(&ev.Object.Status.Conditions, reconciler.Ready(true, "", "", ev.Object.Generation))
		return reconciler.Result{}, nil
	}))
	ctx := context.Background()
	for i := range objects {
		if _, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Create(ctx, newBackup(ns, "b"+string(rune('a'+i))), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range objects {
		waitSynced(t, cs, ns, "b"+string(rune('a'+i)), metav1.ConditionTrue)
	}
	// Let events and watch echoes of the last writes settle: wait for a full resync
	// after the writes stopped changing.
	var settled int
	eventually(t, "writes settle", func(context.Context) (bool, error) {
		w := op.writes.get("cassandrabackups") + op.writes.get("events")
		p := op.passes()
		eventually(t, "one resync", func(context.Context) (bool, error) { return op.passes() >= p+objects, nil })
		now := op.writes.get("cassandrabackups") + op.writes.get("events")
		settled = now
		return now == w, nil
	})
	t.Logf("to steady state: %d writes to cassandrabackups, %d to events, for %d objects",
		op.writes.get("cassandrabackups"), op.writes.get("events"), objects)
	if got := op.writes.get("cassandrabackups"); got > 2*objects {
		t.Errorf("%d writes to cassandrabackups for %d objects, want at most 2 each", got, objects)
	}
	before := op.passes()
	eventually(t, "three more resyncs", func(context.Context) (bool, error) { return op.passes() >= before+3*objects, nil })
	if now := op.writes.get("cassandrabackups") + op.writes.get("events"); now != settled {
		t.Errorf("resyncs at steady state made %d writes, want 0", now-settled)
	}
}
