package backup_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/location"
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
	secretName = "cloud-backup-secrets"
	bucket     = "cassandra-bucket"
	deadline   = 2 * time.Minute
)

// env is one test's namespace on the shared control plane, with an S3 server.
type env struct {
	t      testing.TB
	cp     *controlplane.ControlPlane
	ns     string
	kube   kubernetes.Interface
	client versioned.Interface
	s3     *emulators.S3Server
	writes atomic.Int64 // API writes to cassandrabackups by operators of this env
	// nodeCluster, when set, is the cluster name the env's fake nodes report (their pods
	// are labelled with cluster all the same).
	nodeCluster string
	// onEvent, when set, also receives every event the env's operators record, even one
	// the API refuses (in a terminating namespace).
	onEvent func(*corev1.Event)
	// agents is the operator's client of the env's agents, which authenticate and
	// authorize every call (controlplane.EnsureOperatorAccount).
	agents *client.Client
	// locations, when set, makes the env's operators run the location controller too.
	locations *location.Options
}

func newEnv(t testing.TB, s3 *emulators.S3Server) *env {
	t.Helper()
	return newEnvOn(t, controlplane.Shared(t), s3)
}

// newEnvOn is newEnv on a control plane of the test's own.
func newEnvOn(t testing.TB, cp *controlplane.ControlPlane, s3 *emulators.S3Server) *env {
	t.Helper()
	e := &env{t: t, cp: cp, ns: cp.Namespace(t), s3: s3}
	e.kube = kubernetes.NewForConfigOrDie(cp.Config())
	e.client = versioned.NewForConfigOrDie(cp.Config())
	agents, err := controlplane.EnsureOperatorAccount(e.ctx(), e.kube, e.ns)
	if err != nil {
		t.Fatal(err)
	}
	e.agents = agents
	return e
}

func (e *env) ctx() context.Context { return context.Background() }

// secret creates the guide's Secret for the S3 server, with extra keys set or removed.
func (e *env) secret(name string, edit func(map[string][]byte)) {
	e.t.Helper()
	data := e.s3.Secret()
	if edit != nil {
		edit(data)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Data: data}
	if _, err := e.kube.CoreV1().Secrets(e.ns).Create(e.ctx(), s, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("create secret: %v", err)
	}
}

// node is a fake Cassandra node with its agent and its Pod object (test/agentpod): with
// CASSBACKUP_PODNET=1 both live in a pod of their own, otherwise on loopback ports.
type node struct {
	*agentpod.Node
	e     *env
	name  string
	dc    string
	fake  *fakecassandra.Node
	ip    string // the pod's IP
	port  int
	posts *atomic.Int32 // POST /operations received, over restarts
}

// startNode starts a fake node in dc with size bytes of user data, its agent, and
// creates its running Pod.
func (e *env) startNode(name, dc, rack string, seed uint64, size int) *node {
	e.t.Helper()
	reported := cluster
	if e.nodeCluster != "" {
		reported = e.nodeCluster
	}
	an := agentpod.Start(e.t, agentpod.Config{Kube: e.kube, Namespace: e.ns, Name: name, PodCluster: cluster, UserAgent: agentUserAgent(name),
		Cassandra: fakecassandra.Config{ClusterName: reported, Datacenter: dc, Rack: rack, Seed: seed, NumTokens: 4}})
	n := &node{Node: an, e: e, name: name, dc: dc, fake: an.Fake, ip: an.IP, port: an.Port, posts: &an.Posts}
	if size > 0 {
		if err := n.fake.WriteSSTable("ks1", "t1", size); err != nil {
			e.t.Fatal(err)
		}
		if err := n.fake.WriteSSTable("ks1", "t2", size/4+1); err != nil {
			e.t.Fatal(err)
		}
	}
	return n
}

// url is the agent's address as the operator reaches it.
func (n *node) url() string { return n.URL() }

// jolokia is the node's Jolokia client as the agent in its pod reaches it.
func (n *node) jolokia() *jolokia.Client { return n.Jolokia() }

func jolokiaPort(f *fakecassandra.Node) int { return agentpod.JolokiaPort(f) }

// jolokiaPodPort is where a pod's Jolokia listens on the pod's own 127.0.0.1.
const jolokiaPodPort = agentpod.JolokiaPodPort

// agentUserAgent is the User-Agent of the Jolokia client of the agent of the named node:
// any other caller of the node's Jolokia is not its agent.
func agentUserAgent(name string) string { return "test-agent-of/" + name }

// foreignJolokiaCalls returns the node's Jolokia requests that did not come from its
// agent, by User-Agent.
func (n *node) foreignJolokiaCalls() map[string]int {
	out := map[string]int{}
	for ua, count := range n.fake.Callers() {
		if ua != agentUserAgent(n.name) {
			out[ua] = count
		}
	}
	return out
}

// stop stops the agent: its operations are cancelled and forgotten.
func (n *node) stop() { n.Stop() }

// restart stops the agent and starts a new one on the same port: it knows no operation.
func (n *node) restart() { n.Restart(n.e.t) }

// createPod creates a running Pod of the datacenter at ip whose agent and Jolokia ports
// are the given ports.
func (e *env) createPod(name, dc, rack, ip string, agentPort, jolokia int) {
	e.t.Helper()
	agentpod.CreatePod(e.t, e.kube, e.ns, name, agentpod.Labels{Cluster: cluster, Datacenter: dc, Rack: rack}, ip, agentPort, jolokia)
}

// operator is one operator process's backup controller.
type operator struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startOperator runs a backup controller over the env's namespace with fast polling.
func (e *env) startOperator(cfg backup.Options) *operator {
	e.t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 300 * time.Millisecond
	}
	if cfg.MaxSecretBackoff == 0 {
		cfg.MaxSecretBackoff = 2 * time.Second
	}
	config := e.cp.Config()
	config.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/cassandrabackups") {
				e.writes.Add(1)
			}
			return rt.RoundTrip(r)
		})
	}
	kube := kubernetes.NewForConfigOrDie(config)
	client := versioned.NewForConfigOrDie(config)
	set := informers.New(kube, client, informers.Config{Namespaces: []string{e.ns}})
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background().WithName("operator")))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	if e.onEvent != nil {
		broadcaster.StartEventWatcher(e.onEvent)
	}
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: "cassandra-backup-operator"})
	if cfg.Agents == nil {
		cfg.Agents = e.agents
	}
	ctrl, err := backup.NewWithOptions(opdeps.Deps{KubeClient: kube, Client: client, Informers: set, Recorder: recorder}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	var locs *location.Controller
	if e.locations != nil {
		if locs, err = location.NewWithOptions(opdeps.Deps{KubeClient: kube, Client: client, Informers: set, Recorder: recorder}, *e.locations); err != nil {
			e.t.Fatal(err)
		}
	}
	set.Start(ctx)
	op := &operator{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(op.done)
		var wg sync.WaitGroup
		if locs != nil {
			wg.Go(func() { _ = locs.Run(ctx, 1) })
		}
		if err := ctrl.Run(ctx, 4); err != nil {
			e.t.Errorf("controller: %v", err)
		}
		wg.Wait()
		set.Shutdown()
		broadcaster.Shutdown()
	}()
	e.t.Cleanup(op.stop)
	return op
}

// stop stops the operator and waits until its workers have drained.
func (o *operator) stop() {
	o.cancel()
	<-o.done
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// spec is a backup of dc to the S3 bucket.
func spec(dc, tag string) v1alpha1.CassandraBackupSpec {
	return v1alpha1.CassandraBackupSpec{CDC: cluster + "-" + dc + "-cassandra", Cluster: cluster, Datacenter: dc,
		StorageLocation: "s3://" + bucket, SnapshotTag: tag, Secret: secretName, Insecure: true,
		CreateMissingBucket: true, GlobalRequest: true}
}

func (e *env) create(name string, s v1alpha1.CassandraBackupSpec) {
	e.t.Helper()
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: s}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(e.ctx(), b, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("create backup %s: %v", name, err)
	}
}

func (e *env) get(name string) *v1alpha1.CassandraBackup {
	e.t.Helper()
	b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Get(e.ctx(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get backup %s: %v", name, err)
	}
	return b
}

// waitFor polls the backup until cond holds, failing with its last status at the deadline.
func (e *env) waitFor(name, what string, cond func(*v1alpha1.CassandraBackup) bool) *v1alpha1.CassandraBackup {
	e.t.Helper()
	end := time.Now().Add(deadline)
	for {
		b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Get(e.ctx(), name, metav1.GetOptions{})
		if err == nil && cond(b) {
			return b
		}
		if time.Now().After(end) {
			st, _ := json.MarshalIndent(b, "", "  ")
			e.t.Fatalf("backup %s: %s: not within %s; last: %v %s", name, what, deadline, err, st)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// waitGone polls until the backup no longer exists.
func (e *env) waitGone(name string) {
	e.t.Helper()
	end := time.Now().Add(deadline)
	for {
		_, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Get(e.ctx(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(end) {
			e.t.Fatalf("backup %s still exists after %s (err %v)", name, deadline, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func completed(b *v1alpha1.CassandraBackup) bool { return b.Status.State == v1alpha1.BackupCompleted }

// condition returns the backup's condition of a type, or nil.
func condition(b *v1alpha1.CassandraBackup, typ string) *metav1.Condition {
	for i := range b.Status.Conditions {
		if b.Status.Conditions[i].Type == typ {
			return &b.Status.Conditions[i]
		}
	}
	return nil
}

// events returns the events about the backup.
func (e *env) events(name string) []corev1.Event {
	e.t.Helper()
	list, err := e.kube.CoreV1().Events(e.ns).List(e.ctx(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// bucketKeys lists the keys of the S3 bucket under prefix.
func (e *env) bucketKeys(prefix string) []string {
	e.t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(e.s3.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(e.ctx())
		if err != nil {
			e.t.Fatalf("list %s: %v", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// noSecretIn fails when a value of the S3 Secret appears in the backup or its events.
func (e *env) noSecretIn(name string) {
	e.t.Helper()
	b := e.get(name)
	data, _ := json.Marshal(b)
	evs, _ := json.Marshal(e.events(name))
	for _, v := range []string{e.s3.SecretKey, e.s3.AccessKey} {
		if strings.Contains(string(data), v) || strings.Contains(string(evs), v) {
			e.t.Fatalf("a secret value appears in the status or events of %s", name)
		}
	}
}

// s3Server starts a versitygw for one test.
func s3Server(t testing.TB) *emulators.S3Server {
	t.Helper()
	return emulators.S3(t)
}
