package reconciler_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2/ktesting"

	v1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	backupcontroller "github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

type backup = *v1.CassandraBackup

// Deadlines are generous: the machine is small and shared.
const (
	pollInterval = 100 * time.Millisecond
	pollTimeout  = 60 * time.Second
)

// writes counts the API writes an operator makes, by resource.
type writes struct {
	mu     sync.Mutex
	counts map[string]int
}

func (w *writes) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			w.mu.Lock()
			w.counts[resourceOf(req.URL.Path)]++
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// get returns the writes to resource (cassandrabackups, events, leases) so far.
func (w *writes) get(resource string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[resource]
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// resourceOf returns the resource of an API path: the segment after namespaces/<ns>/.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			return parts[i+2]
		}
	}
	return path
}

// running is an operator run in this test process.
type running struct {
	writes   *writes
	registry atomic.Pointer[prometheus.Registry]
	cancel   context.CancelFunc
	done     chan error
}

// options tune an in-process operator.
type options struct {
	resync  time.Duration
	workers int
}

// startOperator runs the operator in this process over namespace ns with one controller
// named "test" made of regs; it stops when the test ends.
func startOperator(t *testing.T, cp *controlplane.ControlPlane, ns string, o options, regs ...reconciler.Registration[backup]) *running {
	t.Helper()
	r := &running{writes: &writes{counts: map[string]int{}}, done: make(chan error, 1)}
	cfg := cp.Config()
	cfg.WrapTransport = r.writes.wrap
	_, lctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(lctx)
	r.cancel = cancel
	workers := o.workers
	if workers == 0 {
		workers = 2
	}
	go func() {
		r.done <- operator.Run(ctx, operator.Config{
			REST: cfg, Namespaces: []string{ns}, Workers: workers, Resync: o.resync,
			MetricsAddr: "0", HealthAddr: "0",
		}, func(d operator.Deps) (operator.Component, error) {
			r.registry.Store(d.Registry)
			opts := backupcontroller.ReconcilerOptions(d)
			opts.Name = "test"
			opts.Handlers = regs
			return reconciler.New(opts)
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("operator: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("operator did not stop within 30s of its context ending")
		}
	})
	return r
}

// metric returns the sum of the samples of the named metric whose labels include want.
func (r *running) metric(name string, want map[string]string) float64 {
	reg := r.registry.Load()
	if reg == nil {
		return 0
	}
	return gather(reg, name, want)
}

func gather(g prometheus.Gatherer, name string, want map[string]string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, want) {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func matches(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// passes returns the reconciliation passes of the test controller so far.
func (r *running) passes() float64 {
	return r.metric("reconciler_passes_total", map[string]string{"controller": "test"})
}

// calls counts handler calls by object name and keeps what the handlers saw.
type calls struct {
	mu   sync.Mutex
	n    map[string]int
	seen map[string][]any
	at   map[string][]time.Time
}

func newCalls() *calls {
	return &calls{n: map[string]int{}, seen: map[string][]any{}, at: map[string][]time.Time{}}
}

// add records a call for key and returns how many calls key has had, this one included.
func (c *calls) add(key string, seen ...any) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[key]++
	c.seen[key] = append(c.seen[key], seen...)
	c.at[key] = append(c.at[key], time.Now())
	return c.n[key]
}

func (c *calls) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func (c *calls) values(key string) []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]any(nil), c.seen[key]...)
}

func (c *calls) times(key string) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at[key]...)
}

func newBackup(ns, name string) *v1.CassandraBackup {
	return &v1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1.CassandraBackupSpec{
			CDC: "dc", Cluster: "c", Datacenter: "dc1", StorageLocation: "s3://bucket", SnapshotTag: "t1",
		},
	}
}

func client(t testing.TB, cp *controlplane.ControlPlane) versioned.Interface {
	t.Helper()
	cfg := cp.Config()
	cfg.QPS, cfg.Burst = 200, 400
	return versioned.NewForConfigOrDie(cfg)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), pollInterval, pollTimeout, true, cond); err != nil {
		t.Fatalf("%s: not within %v: %v", what, pollTimeout, err)
	}
}

// condition returns the named condition of a backup, or nil.
func condition(b *v1.CassandraBackup, typ string) *metav1.Condition {
	return meta.FindStatusCondition(b.Status.Conditions, typ)
}

// waitSynced waits until the backup's Synced condition has the status at its current generation.
func waitSynced(t testing.TB, cs versioned.Interface, ns, name string, status metav1.ConditionStatus) *v1.CassandraBackup {
	t.Helper()
	var last *v1.CassandraBackup
	eventually(t, fmt.Sprintf("%s/%s Synced=%s", ns, name, status), func(ctx context.Context) (bool, error) {
		b, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = b
		c := condition(b, reconciler.TypeSynced)
		return c != nil && c.Status == status && c.ObservedGeneration == b.Generation, nil
	})
	return last
}
