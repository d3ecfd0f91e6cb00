package tablerestore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/metrics"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/tablerestore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	opdeps "github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/test/agentpod"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

// TestMain runs the suite on the pod network when root (podnet.DefaultWhenRoot).
func TestMain(m *testing.M) {
	podnet.DefaultWhenRoot(os.Stderr)
	os.Exit(controlplane.Main(m))
}

const (
	cluster    = "test-cluster"
	dc         = "dc1"
	secretName = "cloud-backup-secrets"
	bucket     = "cassandra-bucket"
	deadline   = 3 * time.Minute
)

// env is one test's namespace on the shared control plane, an S3 server and a running
// 3-node datacenter (fake nodes, each with its agent in its pod).
type env struct {
	t      testing.TB
	cp     *controlplane.ControlPlane
	ns     string
	kube   kubernetes.Interface
	client versioned.Interface
	s3     *emulators.S3Server
	agents *client.Client
	nodes  []*node
}

// node is a fake Cassandra node and its agent, in a pod of its own on the pod network
// when root, else on loopback ports (test/agentpod).
type node struct {
	*agentpod.Node
	e     *env
	name  string
	fake  *fakecassandra.Node
	ip    string
	port  int
	posts *atomic.Int32 // POST /operations the agent accepted, over restarts
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cp := controlplane.Shared(t)
	e := &env{t: t, cp: cp, ns: cp.Namespace(t), s3: emulators.S3(t)}
	e.kube = kubernetes.NewForConfigOrDie(cp.Config())
	e.client = versioned.NewForConfigOrDie(cp.Config())
	agents, err := controlplane.EnsureOperatorAccount(context.Background(), e.kube, e.ns)
	if err != nil {
		t.Fatal(err)
	}
	e.agents = agents
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: e.ns}, Data: e.s3.Secret()}
	if _, err := e.kube.CoreV1().Secrets(e.ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.nodes = append(e.nodes, e.startNode(fmt.Sprintf("%s-%s-rack%d-0", cluster, dc, i+1), fmt.Sprintf("rack%d", i+1), uint64(i+1)))
	}
	return e
}

// startNode starts a fake node of the test cluster with two tables of data (ks1.t1,
// ks1.t2), its agent and its running Pod.
func (e *env) startNode(name, rack string, seed uint64) *node {
	e.t.Helper()
	return e.startNodeWith(name, fakecassandra.Config{ClusterName: cluster, Datacenter: dc, Rack: rack, Seed: seed, NumTokens: 4})
}

// startNodeWith starts a fake node configured by cfg (its cluster, datacenter and rack
// label its Pod), its data, agent and Pod.
func (e *env) startNodeWith(name string, cfg fakecassandra.Config) *node {
	e.t.Helper()
	an := agentpod.Start(e.t, agentpod.Config{Kube: e.kube, Namespace: e.ns, Name: name, Cassandra: cfg})
	n := &node{Node: an, e: e, name: name, fake: an.Fake, ip: an.IP, port: an.Port, posts: &an.Posts}
	for _, tb := range []string{"t1", "t2"} {
		if err := n.fake.WriteSSTable("ks1", tb, 20_000+int(cfg.Seed)*1000); err != nil {
			e.t.Fatal(err)
		}
	}
	return n
}

// stop stops the agent: its operations are cancelled and forgotten.
func (n *node) stop() { n.Stop() }

// restart stops the agent and starts a new one on the same port.
func (n *node) restart() { n.Restart(n.e.t) }

// operator is one operator process running the backup and table-restore controllers and
// the metrics, served on its own loopback port.
type operator struct {
	cancel     context.CancelFunc
	done       chan struct{}
	metricsURL string
}

// scrape returns the operator's /metrics page.
func (o *operator) scrape(t testing.TB) string {
	t.Helper()
	resp, err := http.Get(o.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d, %v", o.metricsURL, resp.StatusCode, err)
	}
	return string(b)
}

func (e *env) startOperator() *operator { return e.startOperatorWith(nil) }

// startOperatorWith starts an operator whose table-restore controller's options edit changes.
func (e *env) startOperatorWith(edit func(*tablerestore.Options)) *operator {
	e.t.Helper()
	kube := kubernetes.NewForConfigOrDie(e.cp.Config())
	cl := versioned.NewForConfigOrDie(e.cp.Config())
	set := informers.New(kube, cl, informers.Config{Namespaces: []string{e.ns}})
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background().WithName("operator")))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: "cassandra-backup-operator"})
	reg := prometheus.NewRegistry()
	deps := opdeps.Deps{KubeClient: kube, Client: cl, Informers: set, Recorder: recorder, Registry: reg}
	mc, err := metrics.New(deps)
	if err != nil {
		e.t.Fatal(err)
	}
	bc, err := backup.NewWithOptions(deps, backup.Options{Agents: e.agents, PollInterval: 300 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	opts := tablerestore.Options{Agents: e.agents, PollInterval: 300 * time.Millisecond}
	if edit != nil {
		edit(&opts)
	}
	rc, err := tablerestore.NewWithOptions(deps, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	set.Start(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ms := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go ms.Serve(ln)
	op := &operator{cancel: cancel, done: make(chan struct{}), metricsURL: "http://" + ln.Addr().String() + "/metrics"}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context, int) error{bc.Run, rc.Run, mc.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx, 2); err != nil {
				e.t.Errorf("controller: %v", err)
			}
		}()
	}
	go func() {
		wg.Wait()
		ms.Close()
		set.Shutdown()
		broadcaster.Shutdown()
		close(op.done)
	}()
	e.t.Cleanup(op.stop)
	return op
}

func (o *operator) stop() {
	o.cancel()
	<-o.done
}

// backup takes a backup of the datacenter and waits until it is COMPLETED.
func (e *env) backup(name string) {
	e.t.Helper()
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: v1alpha1.CassandraBackupSpec{
		CDC: "cdc", Cluster: cluster, Datacenter: dc, StorageLocation: "s3://" + bucket, SnapshotTag: name,
		Secret: secretName, Insecure: true, CreateMissingBucket: true}}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(context.Background(), b, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.poll("backup "+name, func() (bool, any) {
		b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && b.Status.State == v1alpha1.BackupCompleted, b
	})
}

// restore creates a CassandraRestore of ks1.t1 from the backup.
func (e *env) restore(name, backupName string, edit func(*v1alpha1.CassandraRestoreSpec)) {
	e.t.Helper()
	// The default headroom (1 GiB) is more than a test machine's /tmp may have free.
	headroom := resource.MustParse("1Mi")
	r := &v1alpha1.CassandraRestore{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: v1alpha1.CassandraRestoreSpec{BackupName: backupName, Entities: "ks1.t1", MinFreeBytes: &headroom}}
	if edit != nil {
		edit(&r.Spec)
	}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraRestores(e.ns).Create(context.Background(), r, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// update changes the restore's spec.
func (e *env) update(name string, edit func(*v1alpha1.CassandraRestoreSpec)) {
	e.t.Helper()
	r := e.get(name)
	edit(&r.Spec)
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraRestores(e.ns).Update(context.Background(), r, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(name string) *v1alpha1.CassandraRestore {
	e.t.Helper()
	r, err := e.client.CassandraoperatorV1alpha1().CassandraRestores(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// waitFor polls the restore until cond holds.
func (e *env) waitFor(name, what string, cond func(*v1alpha1.CassandraRestore) bool) *v1alpha1.CassandraRestore {
	e.t.Helper()
	var out *v1alpha1.CassandraRestore
	e.poll("restore "+name+": "+what, func() (bool, any) {
		r, err := e.client.CassandraoperatorV1alpha1().CassandraRestores(e.ns).Get(context.Background(), name, metav1.GetOptions{})
		out = r
		return err == nil && cond(r), r
	})
	return out
}

func (e *env) poll(what string, cond func() (bool, any)) {
	e.t.Helper()
	end := time.Now().Add(deadline)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			st, _ := json.MarshalIndent(last, "", "  ")
			e.t.Fatalf("%s: not within %s; last: %s", what, deadline, st)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func state(s v1alpha1.TableRestoreState) func(*v1alpha1.CassandraRestore) bool {
	return func(r *v1alpha1.CassandraRestore) bool { return r.Status.State == s }
}

// ready returns the restore's Ready condition, or an empty one.
func ready(r *v1alpha1.CassandraRestore) metav1.Condition {
	for _, c := range r.Status.Conditions {
		if c.Type == "Ready" {
			return c
		}
	}
	return metav1.Condition{}
}
