package backup

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// fakeExternal is an External whose agents and bucket live in memory.
type fakeExternal struct {
	ops       map[string]api.Operation // operation id → operation
	submitted int
	committed string
	obs       Observation
	// createErr, when set, is CreateNode's answer (an agent refusing).
	createErr error
	// identity answers Identify; host id "h" of cluster c, datacenter dc1 when nil.
	identity func(pod *corev1.Pod) (api.Identity, error)
}

func (f *fakeExternal) Identify(_ context.Context, pod *corev1.Pod) (api.Identity, error) {
	if f.identity != nil {
		return f.identity(pod)
	}
	return api.Identity{HostID: "h", Cluster: "c", Datacenter: "dc1"}, nil
}

func (f *fakeExternal) Observe(context.Context, *v1alpha1.CassandraBackup) (Observation, error) {
	return f.obs, nil
}

func (f *fakeExternal) Create(_ context.Context, b *v1alpha1.CassandraBackup) (string, error) {
	f.committed = "topology/" + b.Spec.Cluster + "-" + b.Status.Snapshot
	return f.committed, nil
}

func (f *fakeExternal) Delete(context.Context, *v1alpha1.CassandraBackup) error { return nil }

func (f *fakeExternal) Collect(context.Context, *v1alpha1.CassandraBackup, []string) error {
	return nil
}

func (f *fakeExternal) ObserveNode(_ context.Context, _ *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) (api.Operation, error) {
	op, ok := f.ops[n.OperationID]
	if !ok {
		return op, fmt.Errorf("GET: %w", client.ErrNotFound)
	}
	return op, nil
}

func (f *fakeExternal) CreateNode(_ context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus) (api.Operation, bool, error) {
	if f.createErr != nil {
		return api.Operation{}, false, f.createErr
	}
	f.submitted++
	op := api.Operation{ID: fmt.Sprintf("op-%d", f.submitted), State: api.StateRunning, Request: request(b)}
	f.ops[op.ID] = op
	return op, true, nil
}

func (f *fakeExternal) DeleteNode(context.Context, *v1alpha1.CassandraBackup, *v1alpha1.NodeBackupStatus) error {
	return nil
}

// pendingBackup is a backup started now, of one pending node p-0.
func pendingBackup() *v1alpha1.CassandraBackup {
	start := metav1.NewTime(time.Now())
	return &v1alpha1.CassandraBackup{
		Spec: v1alpha1.CassandraBackupSpec{Cluster: "c", Datacenter: "dc1", SnapshotTag: "t", StorageLocation: "s3://b"},
		Status: v1alpha1.CassandraBackupStatus{Snapshot: "t", State: v1alpha1.BackupPending, StartTime: &start,
			Nodes: []v1alpha1.NodeBackupStatus{{Node: "p-0", HostID: "h", State: v1alpha1.BackupPending}}},
	}
}

// The handlers read as steps over External: submit, resubmit an operation the agent
// forgot, complete, commit.
func TestHandlersOverExternal(t *testing.T) {
	ext := &fakeExternal{ops: map[string]api.Operation{}}
	c := &Controller{cfg: Options{}.withDefaults(), ext: ext}
	b := pendingBackup()
	ev := &event{Object: b}
	await := func() reconciler.Result {
		t.Helper()
		res, err := c.awaitNodes(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := await(); res.RequeueAfter <= 0 || b.Status.Nodes[0].OperationID != "op-1" || b.Status.Nodes[0].Attempts != 1 {
		t.Fatalf("after the first pass: %+v, %+v", res, b.Status.Nodes[0])
	}
	delete(ext.ops, "op-1") // the agent restarted
	await()
	if n := b.Status.Nodes[0]; n.OperationID != "" || ext.submitted != 1 {
		t.Fatalf("an operation the agent forgot: %+v (%d submitted)", n, ext.submitted)
	}
	await()
	if n := b.Status.Nodes[0]; n.OperationID != "op-2" || ext.submitted != 2 {
		t.Fatalf("resubmission: %+v", n)
	}
	ext.ops["op-2"] = api.Operation{ID: "op-2", State: api.StateCompleted, Transfer: api.Transfer{BytesTotal: 10, BytesTransferred: 10}}
	if res := await(); res.RequeueAfter != 0 || b.Status.Nodes[0].State != v1alpha1.BackupCompleted {
		t.Fatalf("completion: %+v, %+v", res, b.Status.Nodes[0])
	}
	if _, err := c.commit(context.Background(), ev); err != nil || b.Status.State != v1alpha1.BackupCompleted || ext.committed == "" {
		t.Fatalf("commit: %v, state %s, committed %q", err, b.Status.State, ext.committed)
	}
	if res, err := c.start(context.Background(), ev); err != nil || res.RequeueAfter != 0 {
		t.Errorf("start of a finished backup: %+v, %v", res, err)
	}
}

// A justCreate backup is imported from what External.Observe finds, or looked for again.
func TestObserveImports(t *testing.T) {
	ext := &fakeExternal{obs: Observation{BucketExists: true, Missing: "no topology file of cluster c and snapshot tag t"}}
	c := &Controller{cfg: Options{}.withDefaults(), ext: ext}
	b := &v1alpha1.CassandraBackup{Spec: v1alpha1.CassandraBackupSpec{Cluster: "c", Datacenter: "dc1", SnapshotTag: "t", JustCreate: true}}
	ev := &event{Object: b}
	if res, err := c.observe(context.Background(), ev); err != nil || res.RequeueAfter != c.cfg.ImportInterval || b.Status.State != v1alpha1.BackupPending {
		t.Fatalf("not found: %+v %v %s", res, err, b.Status.State)
	}
	ext.obs = Observation{BucketExists: true, Topology: "topology/x", Nodes: []v1alpha1.NodeBackupStatus{{Node: "p-0", State: v1alpha1.BackupCompleted}}}
	if res, err := c.observe(context.Background(), ev); err != nil || res.RequeueAfter != 0 || b.Status.State != v1alpha1.BackupCompleted || b.Status.Snapshot != "t" {
		t.Fatalf("found: %+v %v %+v", res, err, b.Status)
	}
	for _, h := range []reconciler.HandlerFunc[*v1alpha1.CassandraBackup]{c.start, c.awaitNodes, c.commit} {
		if res, err := h(context.Background(), ev); err != nil || res.RequeueAfter != 0 {
			t.Errorf("a handler of a created backup ran for an import: %+v %v", res, err)
		}
	}
}

// TestRequestRefreshPolicy: the backup's refresh settings reach the agent's request.
func TestRequestRefreshPolicy(t *testing.T) {
	b := &v1alpha1.CassandraBackup{}
	if req := request(b); req.LifecycleExpiry != 0 || req.SkipRefreshing {
		t.Errorf("request of a backup without refresh settings: expiry %v skip %v", req.LifecycleExpiry, req.SkipRefreshing)
	}
	b.Spec.LifecycleExpiry, b.Spec.SkipRefreshing = &metav1.Duration{Duration: 720 * time.Hour}, true
	if req := request(b); req.LifecycleExpiry != 720*time.Hour || !req.SkipRefreshing {
		t.Errorf("request: expiry %v skip %v, want 720h and true", req.LifecycleExpiry, req.SkipRefreshing)
	}
}
