package location_test

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/location"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

// env is one test's namespace on the shared control plane.
type env struct {
	t      testing.TB
	ns     string
	kube   kubernetes.Interface
	client versioned.Interface
}

func newEnv(t testing.TB) *env {
	cp := controlplane.Shared(t)
	return &env{t: t, ns: cp.Namespace(t), kube: kubernetes.NewForConfigOrDie(cp.Config()), client: versioned.NewForConfigOrDie(cp.Config())}
}

// start runs a location controller (a fresh process: no memory of the last one) until
// the returned stop is called or the test ends.
func (e *env) start(opts location.Options) (stop func()) {
	if opts.Tick == 0 {
		opts.Tick = 200 * time.Millisecond
	}
	if opts.Period == 0 {
		opts.Period = time.Hour
	}
	if opts.ProbeTimeout == 0 {
		opts.ProbeTimeout = 10 * time.Second
	}
	config := controlplane.Shared(e.t).Config()
	kube, client := kubernetes.NewForConfigOrDie(config), versioned.NewForConfigOrDie(config)
	set := informers.New(kube, client, informers.Config{Namespaces: []string{e.ns}})
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background().WithName("operator")))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.kube.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: operator.Name})
	ctrl, err := location.NewWithOptions(operator.Deps{KubeClient: kube, Client: client, Informers: set, Recorder: recorder}, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	set.Start(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ctrl.Run(ctx, 2); err != nil {
			e.t.Errorf("controller: %v", err)
		}
		set.Shutdown()
		broadcaster.Shutdown()
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) secret(name string, data map[string][]byte) {
	e.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	_, err := e.kube.CoreV1().Secrets(e.ns).Create(context.Background(), s, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) updateSecret(name string, data map[string][]byte) {
	e.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
	if _, err := e.kube.CoreV1().Secrets(e.ns).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) location(name string, spec v1alpha1.CassandraBackupLocationSpec) {
	e.t.Helper()
	l := &v1alpha1.CassandraBackupLocation{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackupLocations(e.ns).Create(context.Background(), l, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(name string) *v1alpha1.CassandraBackupLocation {
	e.t.Helper()
	l, err := e.client.CassandraoperatorV1alpha1().CassandraBackupLocations(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// waitAvailable waits until the location's Available condition has the status and
// reason, and returns the location.
func (e *env) waitAvailable(name string, status metav1.ConditionStatus, reason string) *v1alpha1.CassandraBackupLocation {
	e.t.Helper()
	var last *metav1.Condition
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		l := e.get(name)
		last = meta.FindStatusCondition(l.Status.Conditions, v1alpha1.LocationAvailable)
		if last != nil && last.Status == status && last.Reason == reason {
			return l
		}
	}
	e.t.Fatalf("location %s: Available is %+v, want %s/%s", name, last, status, reason)
	return nil
}

// until waits for cond, for up to a minute.
func (e *env) until(what string, cond func() bool) {
	e.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within a minute", what)
		}
	}
}
