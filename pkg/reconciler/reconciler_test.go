package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	v1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/fake"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
)

type backup = *v1.CassandraBackup

// nopInformer stands for an informer; the harness fills the cache itself.
type nopInformer struct{}

func (nopInformer) AddEventHandler(cache.ResourceEventHandler) error { return nil }
func (nopInformer) HasSynced() bool                                  { return true }

// harness runs a controller's passes by hand against a fake clientset, copying the
// clientset's objects into the cache before every pass as an informer would.
type harness struct {
	t        *testing.T
	client   *fake.Clientset
	indexer  cache.Indexer
	clock    *clocktesting.FakeClock
	recorder *record.FakeRecorder
	metrics  *Metrics
	c        *Controller[backup]
}

func newHarness(t *testing.T, regs ...Registration[backup]) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		client:   fake.NewSimpleClientset(),
		indexer:  cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}),
		clock:    clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		recorder: record.NewFakeRecorder(100),
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h.metrics = m
	lister := listers.NewCassandraBackupLister(h.indexer)
	h.c, err = New(Options[backup]{
		Name:     "test",
		Informer: nopInformer{},
		Get:      func(ns, name string) (backup, error) { return lister.CassandraBackups(ns).Get(name) },
		Client: func(ns string) Patcher[backup] {
			return h.client.CassandraoperatorV1alpha1().CassandraBackups(ns)
		},
		Conditions:         func(b backup) *[]metav1.Condition { return &b.Status.Conditions },
		ObservedGeneration: func(b backup) *int64 { return &b.Status.ObservedGeneration },
		Handlers:           regs,
		Recorder:           h.recorder,
		Metrics:            m,
		Clock:              h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newBackup(name string) *v1.CassandraBackup {
	return &v1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: 1},
		Spec: v1.CassandraBackupSpec{
			CDC: "dc", Cluster: "c", Datacenter: "dc1", StorageLocation: "s3://bucket", SnapshotTag: "t1",
		},
	}
}

func (h *harness) create(b *v1.CassandraBackup) {
	h.t.Helper()
	if _, err := h.client.CassandraoperatorV1alpha1().CassandraBackups(b.Namespace).Create(context.Background(), b, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// get reads the object from the fake API.
func (h *harness) get(name string) *v1.CassandraBackup {
	h.t.Helper()
	b, err := h.client.CassandraoperatorV1alpha1().CassandraBackups("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// update changes the object in the fake API as a user would; spec changes bump the generation.
func (h *harness) update(name string, change func(*v1.CassandraBackup)) {
	h.t.Helper()
	b := h.get(name)
	spec := b.Spec
	change(b)
	if !equalJSON(spec, b.Spec) {
		b.Generation++
	}
	if _, err := h.client.CassandraoperatorV1alpha1().CassandraBackups("ns").Update(context.Background(), b, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// sync refreshes the cache from the fake API and runs one pass.
func (h *harness) sync(name string) (time.Duration, error) {
	h.t.Helper()
	b, err := h.client.CassandraoperatorV1alpha1().CassandraBackups("ns").Get(context.Background(), name, metav1.GetOptions{})
	switch {
	case err == nil:
		if err := h.indexer.Update(b); err != nil {
			h.t.Fatal(err)
		}
	default:
		if obj, ok, _ := h.indexer.GetByKey("ns/" + name); ok {
			_ = h.indexer.Delete(obj)
		}
	}
	return h.c.Sync(context.Background(), cache.ObjectName{Namespace: "ns", Name: name})
}

func (h *harness) mustSync(name string) time.Duration {
	h.t.Helper()
	d, err := h.sync(name)
	if err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	return d
}

// writes counts the patches made since the last call.
func (h *harness) writes() int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "patch" || a.GetVerb() == "update" || a.GetVerb() == "create" {
			n++
		}
	}
	h.client.ClearActions()
	return n
}

func (h *harness) condition(name, typ string) *metav1.Condition {
	return meta.FindStatusCondition(h.get(name).Status.Conditions, typ)
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// counter counts handler calls.
type counter map[string]int

func TestCreateRunsOnceAndSteadyStateWritesNothing(t *testing.T) {
	calls := counter{}
	h := newHarness(t, OnCreate("create", func(ctx context.Context, ev *Event[backup]) (Result, error) {
		calls["create"]++
		ev.Object.Status.State = v1.BackupCompleted
		SetCondition(&ev.Object.Status.Conditions, Ready(true, "", "done", ev.Object.Generation))
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	h.writes()
	if d := h.mustSync("b"); d != 0 {
		t.Errorf("requeue after %v, want none", d)
	}
	if calls["create"] != 1 {
		t.Fatalf("create handler called %d times, want 1", calls["create"])
	}
	if n := h.writes(); n != 2 {
		t.Errorf("first pass made %d writes, want 2 (metadata, status)", n)
	}
	b := h.get("b")
	if b.Status.State != v1.BackupCompleted || b.Status.ObservedGeneration != 1 {
		t.Errorf("status = %+v, want COMPLETED at generation 1", b.Status)
	}
	if got := b.Annotations["test."+DefaultDomain+"/last-handled"]; !strings.Contains(got, `"snapshotTag":"t1"`) {
		t.Errorf("last-handled annotation = %q", got)
	}
	if len(b.Finalizers) != 0 {
		t.Errorf("finalizers = %v, want none without a delete handler", b.Finalizers)
	}
	if c := h.condition("b", TypeSynced); c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonReconcileSuccess {
		t.Errorf("Synced = %+v", c)
	}
	if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal Available") {
		t.Errorf("events = %q, want one Ready transition", ev)
	}
	for i := 0; i < 3; i++ {
		h.clock.Step(time.Hour)
		h.mustSync("b")
	}
	if calls["create"] != 1 {
		t.Errorf("create handler called %d times after resyncs, want 1", calls["create"])
	}
	if n := h.writes(); n != 0 {
		t.Errorf("resyncs at steady state made %d writes, want 0", n)
	}
	if ev := h.events(); len(ev) != 0 {
		t.Errorf("resyncs recorded events %q", ev)
	}
}

func TestUpdateAndFieldHandlersSeeOldAndNew(t *testing.T) {
	type change struct{ old, new any }
	var fields []change
	var updates []change
	h := newHarness(t,
		OnCreate("create", func(context.Context, *Event[backup]) (Result, error) { return Result{}, nil }),
		OnUpdate("update", func(_ context.Context, ev *Event[backup]) (Result, error) {
			updates = append(updates, change{ev.Old, ev.New})
			return Result{}, nil
		}),
		OnField("entities", "spec.entities", func(_ context.Context, ev *Event[backup]) (Result, error) {
			fields = append(fields, change{ev.Old, ev.New})
			return Result{}, nil
		}),
	)
	h.create(newBackup("b"))
	h.mustSync("b")
	if len(fields) != 0 || len(updates) != 0 {
		t.Fatalf("field or update handler ran on creation of an object without the field: %v %v", fields, updates)
	}
	h.update("b", func(b *v1.CassandraBackup) { b.Spec.Entities = "ks1" })
	h.mustSync("b")
	h.update("b", func(b *v1.CassandraBackup) { b.Spec.Entities = "ks1,ks2" })
	h.mustSync("b")
	h.update("b", func(b *v1.CassandraBackup) { b.Spec.Insecure = true })
	h.mustSync("b")
	h.mustSync("b")
	want := []change{{nil, "ks1"}, {"ks1", "ks1,ks2"}}
	if len(fields) != len(want) || fields[0] != want[0] || fields[1] != want[1] {
		t.Errorf("field handler saw %v, want %v", fields, want)
	}
	if len(updates) != 3 {
		t.Fatalf("update handler ran %d times, want 3", len(updates))
	}
	if got := lookup(updates[2].old, "spec.insecure"); got != nil {
		t.Errorf("old essence has insecure = %v", got)
	}
	if got := lookup(updates[2].new, "spec.insecure"); got != true {
		t.Errorf("new essence has insecure = %v", got)
	}
}

func TestFieldHandlerRunsOnCreateWhenSet(t *testing.T) {
	var got []any
	h := newHarness(t, OnField("tag", "spec.snapshotTag", func(_ context.Context, ev *Event[backup]) (Result, error) {
		got = append(got, ev.Old, ev.New)
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	h.mustSync("b")
	if len(got) != 2 || got[0] != nil || got[1] != "t1" {
		t.Errorf("field handler saw %v, want [nil t1]", got)
	}
}

func TestRequeueAfterWaitsEvenWhenWokenEarly(t *testing.T) {
	calls := 0
	h := newHarness(t, OnCreate("poll", func(context.Context, *Event[backup]) (Result, error) {
		calls++
		if calls < 3 {
			return Result{RequeueAfter: 10 * time.Second}, nil
		}
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	if d := h.mustSync("b"); d != 10*time.Second {
		t.Errorf("requeue after %v, want 10s", d)
	}
	if d := h.mustSync("b"); calls != 1 || d != 10*time.Second {
		t.Errorf("an early pass called the handler (%d calls) or requeued after %v", calls, d)
	}
	h.clock.Step(10 * time.Second)
	h.mustSync("b")
	h.clock.Step(10 * time.Second)
	if d := h.mustSync("b"); d != 0 || calls != 3 {
		t.Errorf("after the delays: %d calls, requeue %v; want 3 calls, none", calls, d)
	}
	if c := h.condition("b", TypeSynced); c.Status != metav1.ConditionTrue {
		t.Errorf("Synced = %+v while polling, want True", c)
	}
	if _, ok := h.get("b").Annotations["test."+DefaultDomain+"/last-handled"]; !ok {
		t.Error("not marked handled after the handler finished")
	}
}

func TestTemporaryErrorRetriesAfterDelay(t *testing.T) {
	calls := 0
	var retries []int
	h := newHarness(t, OnCreate("flaky", func(_ context.Context, ev *Event[backup]) (Result, error) {
		calls++
		retries = append(retries, ev.Retry)
		if calls == 1 {
			return Result{}, Temporary(errors.New("agent busy"), 30*time.Second)
		}
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	if d := h.mustSync("b"); d != 30*time.Second {
		t.Errorf("requeue after %v, want 30s", d)
	}
	c := h.condition("b", TypeSynced)
	if c.Status != metav1.ConditionFalse || c.Reason != ReasonReconcileError || !strings.Contains(c.Message, "agent busy") {
		t.Errorf("Synced = %+v, want False with the message", c)
	}
	if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning ReconcileError") {
		t.Errorf("events = %q", ev)
	}
	h.writes()
	h.clock.Step(29 * time.Second)
	if d := h.mustSync("b"); calls != 1 || d != time.Second {
		t.Errorf("handler called before its delay (%d calls), requeue %v", calls, d)
	}
	if n := h.writes(); n != 0 {
		t.Errorf("a pass during the delay made %d writes", n)
	}
	h.clock.Step(time.Second)
	h.mustSync("b")
	if calls != 2 || retries[1] != 1 {
		t.Errorf("calls = %d, retries seen = %v; want 2 calls, second with Retry=1", calls, retries)
	}
	if c := h.condition("b", TypeSynced); c.Status != metav1.ConditionTrue {
		t.Errorf("Synced = %+v after success, want True", c)
	}
	if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal ReconcileSuccess") {
		t.Errorf("events = %q, want the return to Synced", ev)
	}
}

func TestPermanentErrorWaitsForGenerationChange(t *testing.T) {
	calls := 0
	h := newHarness(t, OnCreate("validate", func(_ context.Context, ev *Event[backup]) (Result, error) {
		calls++
		if ev.Object.Spec.Entities == "" {
			return Result{}, Permanent(errors.New("entities must be set"))
		}
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	if d, err := h.sync("b"); err != nil || d != 0 {
		t.Errorf("sync = %v, %v; want no error and no requeue", d, err)
	}
	c := h.condition("b", TypeSynced)
	if c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "entities must be set") {
		t.Errorf("Synced = %+v", c)
	}
	h.writes()
	for i := 0; i < 3; i++ {
		h.clock.Step(time.Hour)
		h.mustSync("b")
	}
	if calls != 1 {
		t.Errorf("permanently failed handler called %d times, want 1", calls)
	}
	if n := h.writes(); n != 0 {
		t.Errorf("passes after a permanent failure made %d writes", n)
	}
	if c := h.condition("b", TypeSynced); c.Status != metav1.ConditionFalse {
		t.Errorf("Synced went back to %s without a fix", c.Status)
	}
	h.update("b", func(b *v1.CassandraBackup) { b.Labels = map[string]string{"x": "y"} })
	h.mustSync("b")
	if calls != 1 {
		t.Errorf("a metadata change retried the handler")
	}
	h.update("b", func(b *v1.CassandraBackup) { b.Spec.Entities = "ks" })
	h.mustSync("b")
	if calls != 2 {
		t.Errorf("handler called %d times after the spec changed, want 2", calls)
	}
	if c := h.condition("b", TypeSynced); c.Status != metav1.ConditionTrue || c.ObservedGeneration != 2 {
		t.Errorf("Synced = %+v, want True at generation 2", c)
	}
	if _, ok := h.get("b").Annotations["test."+DefaultDomain+"/progress"]; ok {
		t.Error("progress annotation left behind after the cause finished")
	}
}

func TestOtherErrorIsRateLimited(t *testing.T) {
	calls := 0
	h := newHarness(t, OnCreate("boom", func(context.Context, *Event[backup]) (Result, error) {
		calls++
		if calls == 1 {
			return Result{}, errors.New("connection refused")
		}
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	_, err := h.sync("b")
	if err == nil || !strings.Contains(err.Error(), "handler boom: connection refused") {
		t.Fatalf("sync error = %v", err)
	}
	if c := h.condition("b", TypeSynced); c.Status != metav1.ConditionFalse {
		t.Errorf("Synced = %+v", c)
	}
	// What the worker does with the error: a delay from the rate limiter.
	key := cache.ObjectName{Namespace: "ns", Name: "b"}
	h.c.noteFailure(key, 5*time.Millisecond)
	h.mustSync("b")
	if calls != 1 {
		t.Errorf("handler called during the backoff")
	}
	h.clock.Step(5 * time.Millisecond)
	h.mustSync("b")
	if calls != 2 {
		t.Errorf("handler called %d times after the backoff, want 2", calls)
	}
	if got := testutil.ToFloat64(h.metrics.calls.WithLabelValues("test", "boom", "error")); got != 1 {
		t.Errorf("error outcome counted %v times", got)
	}
}

func TestWorkerRetriesErrorsWithRateLimiter(t *testing.T) {
	calls := make(chan int, 10)
	n := 0
	h := newHarness(t, OnCreate("boom", func(context.Context, *Event[backup]) (Result, error) {
		n++
		calls <- n
		if n == 1 {
			return Result{}, errors.New("flaky")
		}
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	b := h.get("b")
	_ = h.indexer.Add(b)
	key := cache.ObjectName{Namespace: "ns", Name: "b"}
	h.c.queue.Add(key)
	h.c.processNext(context.Background())
	if got := h.c.queue.NumRequeues(key); got != 0 {
		t.Logf("requeues %d", got)
	}
	if h.c.limiter.NumRequeues(key) != 1 {
		t.Errorf("rate limiter saw %d failures, want 1", h.c.limiter.NumRequeues(key))
	}
	h.clock.Step(time.Second)
	if err := h.indexer.Update(h.get("b")); err != nil {
		t.Fatal(err)
	}
	h.c.processNext(context.Background()) // the AddAfter from the failure
	if n != 2 {
		t.Errorf("handler called %d times, want 2", n)
	}
	if h.c.limiter.NumRequeues(key) != 0 {
		t.Errorf("rate limiter not reset after success")
	}
	h.c.queue.ShutDown()
}

func TestFinalizerHoldsDeleteUntilHandlersSucceed(t *testing.T) {
	var order []string
	deleteCalls := 0
	h := newHarness(t,
		OnCreate("create", func(_ context.Context, ev *Event[backup]) (Result, error) {
			if len(ev.Object.Finalizers) != 1 {
				t.Errorf("create handler ran before the finalizer was added: %v", ev.Object.Finalizers)
			}
			order = append(order, "create")
			return Result{}, nil
		}),
		OnDelete("cleanup", func(context.Context, *Event[backup]) (Result, error) {
			deleteCalls++
			order = append(order, "delete")
			if deleteCalls == 1 {
				return Result{}, Temporary(errors.New("storage unreachable"), time.Minute)
			}
			return Result{}, nil
		}),
	)
	h.create(newBackup("b"))
	h.mustSync("b")
	if f := h.get("b").Finalizers; len(f) != 1 || f[0] != DefaultDomain+"/test" {
		t.Fatalf("finalizers = %v", f)
	}
	h.update("b", func(b *v1.CassandraBackup) {
		now := metav1.NewTime(h.clock.Now())
		b.DeletionTimestamp = &now
		b.Finalizers = append(b.Finalizers, "other/keep")
	})
	h.mustSync("b")
	if f := h.get("b").Finalizers; len(f) != 2 {
		t.Fatalf("finalizer removed although the delete handler failed: %v", f)
	}
	if c := h.condition("b", TypeReady); c == nil || c.Reason != ReasonDeleting {
		t.Errorf("Ready = %+v, want Deleting", c)
	}
	h.clock.Step(time.Minute)
	h.mustSync("b")
	if f := h.get("b").Finalizers; len(f) != 1 || f[0] != "other/keep" {
		t.Errorf("finalizers after the delete handler succeeded = %v", f)
	}
	h.mustSync("b")
	if deleteCalls != 2 {
		t.Errorf("delete handler called %d times, want 2", deleteCalls)
	}
	if strings.Join(order, ",") != "create,delete,delete" {
		t.Errorf("order = %v", order)
	}
}

func TestDeletingObjectNeverRunsCreateOrUpdate(t *testing.T) {
	calls := counter{}
	h := newHarness(t,
		OnCreate("create", func(context.Context, *Event[backup]) (Result, error) { calls["create"]++; return Result{}, nil }),
		OnUpdate("update", func(context.Context, *Event[backup]) (Result, error) { calls["update"]++; return Result{}, nil }),
		OnDelete("delete", func(context.Context, *Event[backup]) (Result, error) { calls["delete"]++; return Result{}, nil }),
	)
	b := newBackup("b")
	now := metav1.NewTime(h.clock.Now())
	b.DeletionTimestamp = &now
	b.Finalizers = []string{DefaultDomain + "/test"}
	h.create(b)
	h.mustSync("b")
	if calls["create"] != 0 || calls["update"] != 0 || calls["delete"] != 1 {
		t.Errorf("calls = %v, want only delete", calls)
	}
	if _, err := h.client.CassandraoperatorV1alpha1().CassandraBackups("ns").Get(context.Background(), "b", metav1.GetOptions{}); err == nil {
		if f := h.get("b").Finalizers; len(f) != 0 {
			t.Errorf("finalizers = %v", f)
		}
	}
	// A deleting object without our finalizer is left alone.
	c := newBackup("c")
	c.DeletionTimestamp = &now
	c.Finalizers = []string{"other/keep"}
	h.create(c)
	h.writes()
	h.mustSync("c")
	if calls["create"] != 0 || calls["delete"] != 1 || h.writes() != 0 {
		t.Errorf("a deleting object without our finalizer was handled: %v", calls)
	}
}

func TestFinalizerOnlyForNonOptionalDeleteHandlers(t *testing.T) {
	h := newHarness(t, OnDelete("best-effort", func(context.Context, *Event[backup]) (Result, error) { return Result{}, nil }).AsOptional())
	b := newBackup("b")
	b.Finalizers = []string{DefaultDomain + "/test", "other/keep"}
	h.create(b)
	h.mustSync("b")
	if f := h.get("b").Finalizers; len(f) != 1 || f[0] != "other/keep" {
		t.Errorf("finalizers = %v, want ours removed when no delete handler needs it", f)
	}
}

func TestDoneStepsAreNotRepeated(t *testing.T) {
	calls := counter{}
	h := newHarness(t,
		OnCreate("one", func(context.Context, *Event[backup]) (Result, error) { calls["one"]++; return Result{}, nil }),
		OnCreate("two", func(context.Context, *Event[backup]) (Result, error) {
			calls["two"]++
			if calls["two"] == 1 {
				return Result{}, Temporary(errors.New("not yet"), time.Second)
			}
			return Result{}, nil
		}),
	)
	h.create(newBackup("b"))
	h.mustSync("b")
	prog := parseProgress(h.get("b").Annotations["test."+DefaultDomain+"/progress"])
	if !prog.Handlers["one"].Done || prog.Handlers["two"].Done {
		t.Errorf("progress = %+v, want one done, two pending", prog)
	}
	// A new process (fresh controller memory) must not run "one" again.
	h.c.forget(cache.ObjectName{Namespace: "ns", Name: "b"})
	h.clock.Step(time.Second)
	h.mustSync("b")
	if calls["one"] != 1 || calls["two"] != 2 {
		t.Errorf("calls = %v, want one=1 two=2", calls)
	}
}

func TestResumeRunsOncePerProcess(t *testing.T) {
	calls := counter{}
	h := newHarness(t,
		OnCreate("create", func(context.Context, *Event[backup]) (Result, error) { calls["create"]++; return Result{}, nil }),
		OnResume("resume", func(context.Context, *Event[backup]) (Result, error) { calls["resume"]++; return Result{}, nil }),
	)
	h.create(newBackup("b"))
	h.mustSync("b")
	h.mustSync("b")
	if calls["resume"] != 0 {
		t.Errorf("resume ran for an object created in this process")
	}
	h.c.forget(cache.ObjectName{Namespace: "ns", Name: "b"}) // a restart
	h.mustSync("b")
	h.mustSync("b")
	if calls["resume"] != 1 || calls["create"] != 1 {
		t.Errorf("calls = %v, want create=1 resume=1", calls)
	}
}

func TestTimerRunsEveryInterval(t *testing.T) {
	calls := 0
	h := newHarness(t, Every("poll", time.Minute, func(ctx context.Context, ev *Event[backup]) (Result, error) {
		calls++
		ev.Object.Status.Progress = "tick"
		return Result{}, nil
	}))
	h.create(newBackup("b"))
	if d := h.mustSync("b"); d != time.Minute || calls != 1 {
		t.Errorf("first pass: %d calls, requeue %v", calls, d)
	}
	h.writes()
	h.clock.Step(30 * time.Second)
	if d := h.mustSync("b"); d != 30*time.Second || calls != 1 {
		t.Errorf("early pass: %d calls, requeue %v", calls, d)
	}
	h.clock.Step(30 * time.Second)
	h.mustSync("b")
	if calls != 2 {
		t.Errorf("timer called %d times, want 2", calls)
	}
	if n := h.writes(); n != 0 {
		t.Errorf("a timer that changed nothing made %d writes", n)
	}
}

// TestRequeueCountsFromThePassStart: time the pass spends (a slow handler or write while
// the clock moves) is taken off the requeue delay, so the next call comes when the
// handler asked for it, not that much later.
func TestRequeueCountsFromThePassStart(t *testing.T) {
	var h *harness
	h = newHarness(t, Every("poll", time.Hour, func(ctx context.Context, ev *Event[backup]) (Result, error) {
		h.clock.Step(3 * time.Minute) // the handler's calls took 3 minutes
		return Result{RequeueAfter: 10 * time.Minute}, nil
	}))
	h.create(newBackup("b"))
	if d := h.mustSync("b"); d != 7*time.Minute {
		t.Errorf("requeue after %v, want the 10 minutes asked for less the 3 the pass took", d)
	}
	h.clock.Step(7 * time.Minute)
	if d := h.mustSync("b"); d != 7*time.Minute {
		t.Errorf("the timer was not due when the queue brought the object back: requeue %v", d)
	}
}

func TestStaleCacheIsNotActedOn(t *testing.T) {
	calls := 0
	h := newHarness(t, OnCreate("create", func(context.Context, *Event[backup]) (Result, error) { calls++; return Result{}, nil }))
	h.create(newBackup("b"))
	before := h.get("b")
	before.ResourceVersion = "3"
	h.mustSync("b")
	// The informer has not caught up with our write yet (the fake API keeps no versions,
	// so set them by hand).
	h.c.state[cache.ObjectName{Namespace: "ns", Name: "b"}].written = "10"
	if err := h.indexer.Update(before); err != nil {
		t.Fatal(err)
	}
	d, err := h.c.Sync(context.Background(), cache.ObjectName{Namespace: "ns", Name: "b"})
	if err != nil || d != time.Second || calls != 1 {
		t.Errorf("stale pass: %v %v, %d calls; want a 1s look again and no call", d, err, calls)
	}
}

func TestPanicIsAnError(t *testing.T) {
	h := newHarness(t, OnCreate("bad", func(context.Context, *Event[backup]) (Result, error) { panic("oops") }))
	h.create(newBackup("b"))
	if _, err := h.sync("b"); err == nil || !strings.Contains(err.Error(), "handler bad: panicked: oops") {
		t.Errorf("err = %v", err)
	}
}

func TestGoneObjectIsForgotten(t *testing.T) {
	h := newHarness(t)
	if d, err := h.sync("missing"); err != nil || d != 0 {
		t.Errorf("sync of a missing object = %v, %v", d, err)
	}
}

func TestStatusPatchTouchesOnlyWhatChanged(t *testing.T) {
	h := newHarness(t, OnCreate("create", func(_ context.Context, ev *Event[backup]) (Result, error) {
		ev.Object.Status.Progress = "50%"
		return Result{}, nil
	}))
	b := newBackup("b")
	b.Status.Snapshot = "kept"
	h.create(b)
	h.client.ClearActions()
	h.mustSync("b")
	var statusPatch, metaPatch string
	for _, a := range h.client.Actions() {
		if pa, ok := a.(k8stesting.PatchAction); ok {
			if pa.GetSubresource() == "status" {
				statusPatch = string(pa.GetPatch())
			} else {
				metaPatch = string(pa.GetPatch())
			}
		}
	}
	if strings.Contains(statusPatch, "kept") || strings.Contains(statusPatch, "spec") || !strings.Contains(statusPatch, `"progress":"50%"`) {
		t.Errorf("status patch = %s", statusPatch)
	}
	if keys := topKeys(t, metaPatch); keys != "metadata" || !strings.Contains(metaPatch, "last-handled") {
		t.Errorf("metadata patch = %s", metaPatch)
	}
	if keys := topKeys(t, statusPatch); keys != "status" {
		t.Errorf("status patch touches %s", keys)
	}
}

// topKeys returns the sorted top-level keys of a JSON object.
func topKeys(t *testing.T, doc string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("patch %q: %v", doc, err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func TestSetConditionUnchangedIsNoop(t *testing.T) {
	var conds []metav1.Condition
	if !SetCondition(&conds, Synced("", 1)) {
		t.Fatal("first set reported no change")
	}
	ltt := conds[0].LastTransitionTime
	if SetCondition(&conds, Synced("", 1)) {
		t.Error("setting an unchanged condition reported a change")
	}
	if !SetCondition(&conds, Synced("", 2)) {
		t.Error("a new observedGeneration reported no change")
	}
	if conds[0].LastTransitionTime != ltt {
		t.Error("transition time moved without a status change")
	}
	if !SetCondition(&conds, Synced("broken", 2)) || conds[0].Status != metav1.ConditionFalse || conds[0].Reason != ReasonReconcileError {
		t.Errorf("Synced(message) = %+v", conds[0])
	}
	r := Ready(true, "", "", 1)
	if r.Reason != ReasonAvailable || r.Status != metav1.ConditionTrue {
		t.Errorf("Ready(true) = %+v", r)
	}
}

func TestValidation(t *testing.T) {
	fn := func(context.Context, *Event[backup]) (Result, error) { return Result{}, nil }
	cases := map[string][]Registration[backup]{
		"duplicate id":    {OnCreate("a", fn), OnUpdate("a", fn)},
		"empty id":        {OnCreate("", fn)},
		"no interval":     {Every("t", 0, fn)},
		"no path":         {OnField("f", "", fn)},
		"optional create": {OnCreate("a", fn).AsOptional()},
		"outside essence": {OnField("f", "metadata.labels", fn)},
		"nil handler":     {{ID: "x", Cause: Create}},
		"unknown cause":   {{ID: "x", Cause: "bogus", Handler: HandlerFunc[backup](fn)}},
	}
	for name, regs := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(Options[backup]{
				Name: "x", Informer: nopInformer{},
				Get:      func(string, string) (backup, error) { return nil, nil },
				Client:   func(string) Patcher[backup] { return nil },
				Handlers: regs,
			})
			if err == nil {
				t.Error("New accepted invalid handlers")
			}
		})
	}
}

var _ runtime.Object = (*v1.CassandraBackup)(nil)

// Ready=False while the thing is being made is progress: a Normal event, not a Warning;
// Ready=False for another reason is a Warning.
func TestProgressIsNotAWarning(t *testing.T) {
	reason := ReasonCreating
	h := newHarness(t, OnCreate("start", func(_ context.Context, ev *Event[backup]) (Result, error) {
		SetCondition(&ev.Object.Status.Conditions, metav1.Condition{Type: TypeReady, Status: metav1.ConditionFalse, Reason: reason, Message: "uploading"})
		return Result{RequeueAfter: time.Minute}, nil
	}))
	h.create(newBackup("b"))
	h.mustSync("b")
	if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal Creating uploading") {
		t.Errorf("events while creating = %q", ev)
	}
	reason = ReasonUnavailable
	h.clock.Step(time.Minute)
	h.mustSync("b")
	if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning Unavailable uploading") {
		t.Errorf("events when unavailable = %q", ev)
	}
}

func TestWithReasonSetsSyncedReason(t *testing.T) {
	h := newHarness(t,
		OnCreate("a-temporary", func(_ context.Context, ev *Event[backup]) (Result, error) {
			return Result{}, Temporary(WithReason("SecretNotFound", errors.New("secret s not found")), time.Minute)
		}))
	h.create(newBackup("b"))
	h.mustSync("b")
	c := h.condition("b", TypeSynced)
	if c.Status != metav1.ConditionFalse || c.Reason != "SecretNotFound" || c.Message != "handler a-temporary: secret s not found" {
		t.Errorf("Synced = %+v, want False/SecretNotFound with the message alone", c)
	}
	if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning SecretNotFound") {
		t.Errorf("events = %q", ev)
	}

	h2 := newHarness(t, OnCreate("validate", func(_ context.Context, ev *Event[backup]) (Result, error) {
		return Result{}, Permanent(Reasonf("InvalidSpec", "spec.entities: %s", "bad"))
	}))
	h2.create(newBackup("b"))
	h2.sync("b")
	if c := h2.condition("b", TypeSynced); c.Reason != "InvalidSpec" || !strings.Contains(c.Message, "spec.entities: bad") {
		t.Errorf("Synced = %+v, want False/InvalidSpec", c)
	}
	if ReasonOf(errors.New("x")) != "" || WithReason("R", nil) != nil {
		t.Error("ReasonOf/WithReason of plain errors")
	}
}

// TestHandlerDeadline: a handler stuck on a call that never answers is cut off by its
// deadline, and the object's Synced condition says why.
func TestHandlerDeadline(t *testing.T) {
	h := newHarness(t, OnCreate("hung", func(ctx context.Context, _ *Event[backup]) (Result, error) {
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("call the agent: %w", ctx.Err())
		case <-time.After(20 * time.Second):
			return Result{}, errors.New("the handler's context never ended")
		}
	}))
	h.c.opts.HandlerTimeout = 200 * time.Millisecond
	h.create(newBackup("b"))
	start := time.Now()
	if _, err := h.sync("b"); err == nil {
		t.Fatal("sync succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the handler ran %v, bound 200ms", d)
	}
	c := h.condition("b", TypeSynced)
	if c.Status != metav1.ConditionFalse || c.Reason != ReasonDeadlineExceeded || !strings.Contains(c.Message, "did not finish within 200ms") {
		t.Errorf("Synced = %+v, want False/%s", c, ReasonDeadlineExceeded)
	}
}

func TestHandlerTimeoutDefault(t *testing.T) {
	for _, tt := range []struct{ set, want time.Duration }{{0, DefaultHandlerTimeout}, {-1, 0}, {time.Second, time.Second}} {
		c := &Controller[backup]{opts: Options[backup]{HandlerTimeout: tt.set}}
		if got := c.handlerTimeout(); got != tt.want {
			t.Errorf("HandlerTimeout %v: %v, want %v", tt.set, got, tt.want)
		}
	}
}

// A handler that clears status fields (to their zero value, which JSON omits) clears
// them on the server, also when a metadata write in the same pass came first: the
// handler's status is carried over the write's answer whole, not merged into it.
func TestClearedStatusFieldsStayCleared(t *testing.T) {
	h := newHarness(t, OnCreate("create", func(_ context.Context, ev *Event[backup]) (Result, error) {
		ev.Object.Status.Progress = ""
		ev.Object.Status.Nodes[0].Message = ""
		ev.Object.Status.Nodes[0].BytesPerSecond = 0
		return Result{}, nil
	}))
	b := newBackup("b")
	b.Status.Progress = "50%"
	b.Status.Nodes = []v1.NodeBackupStatus{{Node: "n", Message: "uploading", TransferRate: v1.TransferRate{BytesPerSecond: 7}}}
	h.create(b)
	h.mustSync("b")
	got := h.get("b").Status
	if got.Progress != "" || len(got.Nodes) != 1 || got.Nodes[0].Message != "" || got.Nodes[0].BytesPerSecond != 0 {
		t.Fatalf("cleared fields came back: %+v", got)
	}
}
