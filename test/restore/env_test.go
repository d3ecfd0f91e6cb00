// Package restore_test runs the restore controller and the webhook against a real
// kube-apiserver: the API server calls the webhook over HTTPS (127.0.0.1, the operator's
// own CA) when pods are created, and the pod runner executes the injected init container
// with the real agent binary against an S3 emulator.
package restore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	ownscheme "github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/scheme"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
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
	secretName = "cloud-backup-secrets"
	dcLabel    = informers.LabelDatacenter
	clLabel    = informers.LabelCluster
)

// env is a namespace with the webhook (and optionally the restore controller) running
// against the shared control plane.
type env struct {
	t       *testing.T
	ctx     context.Context
	cp      *controlplane.ControlPlane
	kube    kubernetes.Interface
	client  versioned.Interface
	ns      string
	certs   *webhook.Certificates
	server  *webhook.Server
	hook    string          // MutatingWebhookConfiguration name
	network *podnet.Network // the pod network, with CASSBACKUP_PODNET=1
	set     *informers.Set
}

// loadWebhookManifest reads manifests/webhook and points it at url, for namespace ns only.
func loadWebhookManifest(t *testing.T, name, url, ns string) *admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "manifests", "webhook", "mutatingwebhookconfiguration.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("manifests/webhook: %v", err)
	}
	if len(cfg.Webhooks) != 2 || cfg.Webhooks[1].ObjectSelector.MatchExpressions[0].Key != profile.CassOperatorDatacenter {
		t.Fatalf("manifests/webhook has %d webhooks, want one per pod profile", len(cfg.Webhooks))
	}
	cfg.Webhooks = cfg.Webhooks[:1] // these tests create Instaclustr-labelled pods
	w := &cfg.Webhooks[0]
	if *w.FailurePolicy != admissionregistrationv1.Ignore || *w.SideEffects != admissionregistrationv1.SideEffectClassNone || *w.TimeoutSeconds != 5 ||
		len(w.AdmissionReviewVersions) != 1 || w.AdmissionReviewVersions[0] != "v1" || w.Rules[0].Operations[0] != admissionregistrationv1.Create ||
		w.Rules[0].Resources[0] != "pods" || w.ObjectSelector.MatchExpressions[0].Key != dcLabel {
		t.Fatalf("manifests/webhook does not say what the issue asks: %+v", w)
	}
	excluded := strings.Join(w.NamespaceSelector.MatchExpressions[0].Values, ",")
	if excluded != "cassandra-backup-system,kube-system" {
		t.Fatalf("namespaceSelector excludes %s", excluded)
	}
	cfg.Name = name
	w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url}
	// Only this test's namespace, so other tests' pods are not affected.
	w.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{ns}},
	}}
	return &cfg
}

func newEnv(t *testing.T, controller bool) *env {
	t.Helper()
	return newEnvOn(t, controlplane.Shared(t), controller)
}

// newEnvOn is newEnv on a control plane of the test's own.
func newEnvOn(t *testing.T, cp *controlplane.ControlPlane, controller bool) *env {
	t.Helper()
	_, tctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(tctx)
	kube := kubernetes.NewForConfigOrDie(cp.Config())
	client := versioned.NewForConfigOrDie(cp.Config())
	e := &env{t: t, ctx: ctx, cp: cp, kube: kube, client: client, ns: cp.Namespace(t)}
	var err error
	if e.network, err = podnet.FromEnv(); err != nil {
		t.Fatal(err)
	}
	set := informers.New(kube, client, informers.Config{Namespaces: []string{e.ns}})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.hook = "restore-" + e.ns
	cfg := loadWebhookManifest(t, e.hook, "https://"+ln.Addr().String()+webhook.DefaultPath, e.ns)
	if _, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.certs = &webhook.Certificates{
		Client: kube, Namespace: e.ns, SecretName: "cassandra-backup-operator-webhook-cert", ServiceName: "cassandra-backup-operator",
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, WebhookConfiguration: e.hook,
	}
	if err := e.certs.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	e.server = &webhook.Server{
		Certificates: e.certs,
		Lookup:       &webhook.CacheLookup{Datacenters: set.CassandraDataCenterLister(), ConfigMaps: set.ConfigMapLister()},
		Config:       webhook.Config{AgentImage: "ghcr.io/cassbackup/cassandra-backup-agent:test"},
		Ready:        set.Synced,
	}
	served := make(chan error, 1)
	go func() { served <- e.server.Serve(ctx, ln) }()

	e.set = set
	var run func(context.Context) error
	if controller {
		run = e.newController(ctx)
	}
	set.Start(ctx)
	if !set.WaitForCacheSync(ctx) {
		t.Fatal("informer caches did not sync")
	}
	ran := make(chan error, 1)
	if run != nil {
		go func() { ran <- run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		if run != nil {
			if err := <-ran; err != nil {
				t.Errorf("controller: %v", err)
			}
		}
		if err := <-served; err != nil {
			t.Errorf("webhook server: %v", err)
		}
		set.Shutdown()
		kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), e.hook, metav1.DeleteOptions{})
	})
	e.waitWebhookActive()
	return e
}

// newController builds the restore controller on the env's informers, recording events
// until ctx ends; it returns the function that runs it.
func (e *env) newController(ctx context.Context) func(context.Context) error {
	e.t.Helper()
	scheme := runtime.NewScheme()
	kubescheme.AddToScheme(scheme)
	ownscheme.AddToScheme(scheme)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.kube.CoreV1().Events("")})
	e.t.Cleanup(broadcaster.Shutdown)
	deps := operator.Deps{KubeClient: e.kube, Client: e.client, Informers: e.set,
		Recorder: broadcaster.NewRecorder(scheme, corev1.EventSource{Component: operator.Name})}
	// The operator's account, which the restore init containers let read their progress.
	agents, err := controlplane.EnsureOperatorAccount(ctx, e.kube, e.ns)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := restore.NewWithOptions(deps, restore.Options{Recheck: time.Second, ActivePoll: 300 * time.Millisecond, IdlePoll: 2 * time.Second, Agents: agents})
	if err != nil {
		e.t.Fatal(err)
	}
	return func(ctx context.Context) error { return c.Run(ctx, 2) }
}

// waitWebhookActive polls until the API server calls the webhook: a pod of a datacenter
// that restores without a plan is denied.
func (e *env) waitWebhookActive() {
	e.t.Helper()
	probe := e.datacenter("probe", "probe-cluster", 1, &v1alpha1.RestoreSpec{BackupName: "none"})
	i := 0
	e.poll("the API server to call the webhook", func() (bool, error) {
		i++
		pod := cassandraPod(fmt.Sprintf("probe-%d", i), probe)
		_, err := e.kube.CoreV1().Pods(e.ns).Create(e.ctx, pod, metav1.CreateOptions{})
		if err == nil {
			return false, nil // not called yet
		}
		return strings.Contains(err.Error(), "restore plan is not ready"), nil
	})
}

func (e *env) poll(what string, cond func() (bool, error)) {
	e.t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		return ok, nil
	})
	if err != nil {
		e.t.Fatalf("waiting for %s: %v (last error: %v)", what, err, last)
	}
}

// sourceDC is the Cassandra datacenter name of the tests' backups (the fake nodes'
// default), and of the datacenters that restore them: a restore into a datacenter of
// another name is refused without spec.restore.renameDatacenter (rename_test.go).
const sourceDC = "dc1"

// datacenter creates a CassandraDataCenter of Cassandra datacenter sourceDC; its pods are
// labelled with its name (cassandraPod), which tells them apart.
func (e *env) datacenter(name, cluster string, nodes int32, r *v1alpha1.RestoreSpec) *v1alpha1.CassandraDataCenter {
	e.t.Helper()
	dc := &v1alpha1.CassandraDataCenter{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: cluster, Datacenter: sourceDC, Nodes: &nodes,
			Racks: []v1alpha1.Rack{{Name: "rack1"}}, Restore: r},
	}
	out, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Create(e.ctx, dc, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) getDC(name string) *v1alpha1.CassandraDataCenter {
	e.t.Helper()
	dc, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return dc
}

// patchDC merge-patches a datacenter's spec (never a typed update: other operators' fields stay).
func (e *env) patchDC(name string, patch string) {
	e.t.Helper()
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Patch(e.ctx, name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// cassandraPod is a pod as Instaclustr's operator makes them: a Cassandra container with
// the data volume at /var/lib/cassandra and an agent sidecar; its datacenter label is the
// CassandraDataCenter's name.
func cassandraPod(name string, dc *v1alpha1.CassandraDataCenter) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{dcLabel: dc.Name, clLabel: dc.Spec.Cluster, "app.kubernetes.io/managed-by": "com.instaclustr.cassandra-operator"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "cassandra", Image: "cassandra:4.1", Env: []corev1.EnvVar{{Name: "MAX_HEAP_SIZE", Value: "512M"}},
					VolumeMounts: []corev1.VolumeMount{{Name: "data-volume", MountPath: "/var/lib/cassandra"}}},
				{Name: "agent", Image: "ghcr.io/cassbackup/cassandra-backup-agent:test", Args: []string{"serve"}},
			},
			Volumes: []corev1.Volume{{Name: "data-volume", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// createPod creates a pod and returns what the API server stored, or the error.
func (e *env) createPod(name string, dc *v1alpha1.CassandraDataCenter) (*corev1.Pod, error) {
	return e.kube.CoreV1().Pods(e.ns).Create(e.ctx, cassandraPod(name, dc), metav1.CreateOptions{})
}

// source is a backed-up fake node.
type source struct {
	node     *fakecassandra.Node
	hostname string
}

// backup backs up the fake nodes with the agent, as the backup controller would drive it,
// writes the topology, and creates a COMPLETED CassandraBackup.
func (e *env) backup(name string, s3 *emulators.S3Server, location, tag string, nodes []source, state v1alpha1.BackupState) *v1alpha1.CassandraBackup {
	e.t.Helper()
	ctx := e.ctx
	var hosts []layout.Host
	schema := ""
	for _, n := range nodes {
		a := &agent.Agent{Node: n.node.Client(), Hostname: n.hostname, Secrets: secret.Reader{Kube: e.kube}.Source}
		req := api.Request{Type: api.TypeBackup, StorageLocation: location, SnapshotTag: tag, CreateMissingBucket: true, Insecure: true,
			K8sNamespace: e.ns, K8sSecretName: secretName, ConcurrentConnections: 4}
		if err := a.Backup(klog.NewContext(ctx, klog.FromContext(ctx).WithValues("node", n.hostname)), req, &agent.Tracker{}); err != nil {
			e.t.Fatalf("backup of %s: %v", n.hostname, err)
		}
		hosts = append(hosts, layout.Host{Hostname: n.hostname, Cluster: n.node.ClusterName(), DC: n.node.Datacenter(), Rack: n.node.Rack(), NodeID: n.node.HostID(), IPAddress: "10.0.0.1"})
		schema = n.node.SchemaVersion()
	}
	now := time.Now()
	top := layout.Topology{Timestamp: now.UnixMilli(), ClusterName: nodes[0].node.ClusterName(), SchemaVersion: schema, Topology: hosts}
	data, _ := json.Marshal(top)
	p, _, err := storage.OpenLocation(ctx, location, storage.Config{Credentials: storage.StaticCredentials(s3.Secret()), Insecure: true})
	if err != nil {
		e.t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Put(ctx, layout.TopologyKey(top.ClusterName, tag, schema, now), bytes.NewReader(data), storage.PutOptions{ContentType: "application/json"}); err != nil {
		e.t.Fatal(err)
	}
	return e.backupObject(name, location, tag, nodes[0].node.ClusterName(), nodes[0].node.Datacenter(), state)
}

// backupObject creates a CassandraBackup with the given status state.
func (e *env) backupObject(name, location, tag, cluster, dc string, state v1alpha1.BackupState) *v1alpha1.CassandraBackup {
	e.t.Helper()
	b := &v1alpha1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: v1alpha1.CassandraBackupSpec{CDC: "test-dc-cassandra", Cluster: cluster, Datacenter: dc, StorageLocation: location,
			SnapshotTag: tag, Secret: secretName, Insecure: true},
	}
	b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(e.ctx, b, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.setBackupState(b, state)
}

func (e *env) setBackupState(b *v1alpha1.CassandraBackup, state v1alpha1.BackupState) *v1alpha1.CassandraBackup {
	e.t.Helper()
	b = b.DeepCopy()
	b.Status.State = state
	out, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).UpdateStatus(e.ctx, b, metav1.UpdateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) secret(data map[string][]byte) {
	e.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: e.ns}, Data: data}
	if _, err := e.kube.CoreV1().Secrets(e.ns).Create(e.ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		e.t.Fatal(err)
	}
}
