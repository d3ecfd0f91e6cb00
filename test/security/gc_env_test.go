package security_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

const (
	gcSecret  = "cloud-backup-secrets"
	gcBucket  = "shared-bucket"
	gcCluster = "victim-cluster"
	gcWait    = 2 * time.Minute
)

// gcEnv is a control plane of the test's own (no TestMain is needed), an S3 server with a
// shared bucket, and the backup controller over two namespaces: the victim's and the
// attacker's, each with a Secret for the bucket.
type gcEnv struct {
	t        *testing.T
	ctx      context.Context
	kube     kubernetes.Interface
	client   versioned.Interface
	s3       *emulators.S3Server
	victim   string
	attacker string
}

func gcStart(t *testing.T) *gcEnv {
	t.Helper()
	cp, err := controlplane.Start(t.Context(), controlplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	e := &gcEnv{t: t, ctx: t.Context(), s3: emulators.S3(t), victim: cp.Namespace(t), attacker: cp.Namespace(t)}
	e.kube = kubernetes.NewForConfigOrDie(cp.Config())
	e.client = versioned.NewForConfigOrDie(cp.Config())
	e.s3.CreateBucket(t, gcBucket)
	for _, ns := range []string{e.victim, e.attacker} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: gcSecret, Namespace: ns}, Data: e.s3.Secret()}
		if _, err := e.kube.CoreV1().Secrets(ns).Create(e.ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	set := informers.New(e.kube, e.client, informers.Config{Namespaces: []string{e.victim, e.attacker}})
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background().WithName("operator")))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.kube.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: operator.Name})
	ctrl, err := backup.NewWithOptions(operator.Deps{KubeClient: e.kube, Client: e.client, Informers: set, Recorder: recorder},
		backup.Options{PollInterval: 300 * time.Millisecond, ImportInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	set.Start(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ctrl.Run(ctx, 2); err != nil {
			t.Errorf("controller: %v", err)
		}
		set.Shutdown()
		broadcaster.Shutdown()
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// gcRemoteBackup backs a fake node up with the real agent into the shared bucket, as the
// victim's backup controller would, and commits it with a topology file.
func (e *gcEnv) gcRemoteBackup(tag string) {
	e.t.Helper()
	n := fakecassandra.New(e.t, fakecassandra.Config{ClusterName: gcCluster, Datacenter: "dc1", Rack: "rack1", Seed: 77})
	if err := n.WriteSSTable("ks1", "t1", 50_000); err != nil {
		e.t.Fatal(err)
	}
	a := &agent.Agent{Node: n.Client(), Hostname: "victim-0", Secrets: secret.Reader{Kube: e.kube}.Source}
	req := api.Request{Type: api.TypeBackup, StorageLocation: "s3://" + gcBucket, SnapshotTag: tag, Insecure: true,
		K8sNamespace: e.victim, K8sSecretName: gcSecret}
	if err := a.Backup(e.ctx, req, &agent.Tracker{}); err != nil {
		e.t.Fatal(err)
	}
	now := time.Now()
	top := layout.Topology{Timestamp: now.UnixMilli(), ClusterName: gcCluster, SchemaVersion: n.SchemaVersion(),
		Topology: []layout.Host{{Hostname: "victim-0", Cluster: gcCluster, DC: "dc1", Rack: "rack1", NodeID: n.HostID()}}}
	data, _ := json.Marshal(top)
	p, _, err := storage.OpenLocation(e.ctx, "s3://"+gcBucket, storage.Config{Credentials: storage.StaticCredentials(e.s3.Secret()), Insecure: true})
	if err != nil {
		e.t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Put(e.ctx, layout.TopologyKey(gcCluster, tag, n.SchemaVersion(), now), bytes.NewReader(data), storage.PutOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// gcImport creates a justCreate CassandraBackup of the victim's tag in ns.
func (e *gcEnv) gcImport(ns, name, tag string, edit func(*v1alpha1.CassandraBackupSpec)) {
	e.t.Helper()
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: v1alpha1.CassandraBackupSpec{
		CDC: "any", Cluster: gcCluster, Datacenter: "dc1", StorageLocation: "s3://" + gcBucket, SnapshotTag: tag,
		Secret: gcSecret, Insecure: true, JustCreate: true}}
	if edit != nil {
		edit(&b.Spec)
	}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(ns).Create(e.ctx, b, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// gcWaitFor polls the backup until cond holds.
func (e *gcEnv) gcWaitFor(ns, name, what string, cond func(*v1alpha1.CassandraBackup, error) bool) {
	e.t.Helper()
	end := time.Now().Add(gcWait)
	for {
		b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(ns).Get(e.ctx, name, metav1.GetOptions{})
		if cond(b, err) {
			return
		}
		if time.Now().After(end) {
			e.t.Fatalf("%s/%s: %s: not within %s (last: %v, %+v)", ns, name, what, gcWait, err, b)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// gcEvent waits for an event of the type and reason about the named object.
func (e *gcEnv) gcEvent(ns, name, typ, reason string) corev1.Event {
	e.t.Helper()
	end := time.Now().Add(gcWait)
	for time.Now().Before(end) {
		list, err := e.kube.CoreV1().Events(ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, ev := range list.Items {
			if ev.Type == typ && ev.Reason == reason {
				return ev
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("no %s event %s about %s/%s", typ, reason, ns, name)
	return corev1.Event{}
}

// gcKeys lists the shared bucket, sorted.
func (e *gcEnv) gcKeys() []string {
	e.t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(e.s3.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(gcBucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}
