package schedule_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	clocktesting "k8s.io/utils/clock/testing"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

// env is one test's namespace on the shared control plane and a fake clock.
type env struct {
	t      testing.TB
	ns     string
	kube   kubernetes.Interface
	client versioned.Interface
	clock  *clocktesting.FakeClock
	reg    *prometheus.Registry
	// writes counts the operator's API writes (not GET, LIST or WATCH).
	writes atomic.Int64
	// step is how far until moves the clock at a time.
	step time.Duration
	// patience is how long until waits in real time.
	patience time.Duration
}

func newEnv(t testing.TB) *env {
	cp := controlplane.Shared(t)
	return &env{
		t: t, ns: cp.Namespace(t),
		kube:   kubernetes.NewForConfigOrDie(cp.Config()),
		client: versioned.NewForConfigOrDie(cp.Config()),
		clock:  clocktesting.NewFakeClock(time.Now()),
		reg:    prometheus.NewRegistry(),

		patience: 30 * time.Second,
		step:     time.Minute,
	}
}

// operator runs one schedule controller on the env's clock until stopped.
type op struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (o *op) stop() {
	o.cancel()
	<-o.done
}

// start runs a schedule controller (a fresh process: no memory of the last one).
func (e *env) start(opts schedule.Options) *op {
	opts.Clock = e.clock
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Minute
	}
	config := controlplane.Shared(e.t).Config()
	config.QPS, config.Burst = 500, 1000
	config.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				e.writes.Add(1)
			}
			return rt.RoundTrip(r)
		})
	}
	kube, client := kubernetes.NewForConfigOrDie(config), versioned.NewForConfigOrDie(config)
	set := informers.New(kube, client, informers.Config{Namespaces: []string{e.ns}})
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background().WithName("operator")))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.kube.CoreV1().Events("")}) // not counted
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: operator.Name})
	ctrl, err := schedule.NewWithOptions(operator.Deps{KubeClient: kube, Client: client, Informers: set, Recorder: recorder, Registry: e.reg}, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	set.Start(ctx)
	o := &op{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		if err := ctrl.Run(ctx, 2); err != nil {
			e.t.Errorf("controller: %v", err)
		}
		set.Shutdown()
		broadcaster.Shutdown()
	}()
	e.t.Cleanup(o.stop)
	return o
}

// backups returns the schedule's backups by name.
func (e *env) backups(name string) map[string]*v1alpha1.CassandraBackup {
	list, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: schedule.LabelSchedule + "=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]*v1alpha1.CassandraBackup{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// finish sets a backup's state, as the backup controller would.
func (e *env) finish(name string, state v1alpha1.BackupState) {
	b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	b.Status.State = state
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).UpdateStatus(context.Background(), b, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(name string) *v1alpha1.CassandraBackupSchedule {
	s, err := e.client.CassandraoperatorV1alpha1().CassandraBackupSchedules(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// until steps the fake clock a minute at a time, up to limit, until cond holds; it
// fails the test when cond never does.
func (e *env) until(limit time.Time, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(e.patience)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("at %s: %s: not within %s", e.clock.Now().UTC().Format(time.RFC3339), what, e.patience)
		}
		switch now := e.clock.Now(); {
		case now.Add(e.step).Before(limit):
			e.clock.Step(e.step)
		case now.Add(time.Second).Before(limit): // near the limit: short retries still come due
			e.clock.Step(time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newSchedule(name, cron string, ret *v1alpha1.Retention) *v1alpha1.CassandraBackupSchedule {
	return &v1alpha1.CassandraBackupSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.CassandraBackupScheduleSpec{
			Schedule:  cron,
			Retention: ret,
			Template: v1alpha1.BackupTemplate{CDC: "test-cluster-dc1-cassandra", Cluster: "test-cluster", Datacenter: "dc1",
				StorageLocation: "s3://cassandra-bucket", Secret: "cloud-backup-secrets"},
		},
	}
}

// metric returns the value of a schedule metric of the env's registry, named as
// name or name{result="..."}, summed over the env's schedules; -1 when absent.
func (e *env) metric(name string) float64 {
	e.t.Helper()
	base, result, _ := strings.Cut(strings.TrimSuffix(name, "\"}"), `{result="`)
	families, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	sum, found := 0.0, false
	for _, f := range families {
		if f.GetName() != base {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] != e.ns || (result != "" && labels["result"] != result) {
				continue
			}
			found = true
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	if !found {
		return -1
	}
	return sum
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
