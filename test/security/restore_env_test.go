package security_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2/ktesting"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	ownscheme "github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/scheme"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

const restoreSecret = "cloud-backup-secrets"

// restoreEnv is a control plane of the test's own (the package needs no TestMain), a
// namespace with the restore controller and the webhook (called by the API server over
// HTTPS), an S3 emulator with the namespace's Secret, and a pod runner with the real agent
// binary for init containers.
type restoreEnv struct {
	t      *testing.T
	ctx    context.Context
	kube   kubernetes.Interface
	client versioned.Interface
	ns     string
	s3     *emulators.S3Server
	runner *podrunner.Runner
}

func newRestoreEnv(t *testing.T) *restoreEnv {
	_, tctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(tctx)
	cp, err := controlplane.Start(ctx, controlplane.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	e := &restoreEnv{t: t, ctx: ctx, kube: kubernetes.NewForConfigOrDie(cp.Config()), client: versioned.NewForConfigOrDie(cp.Config()), ns: cp.Namespace(t), s3: emulators.S3(t)}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: restoreSecret, Namespace: e.ns}, Data: e.s3.Secret()}
	if _, err := e.kube.CoreV1().Secrets(e.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	set := informers.New(e.kube, e.client, informers.Config{Namespaces: []string{e.ns}})
	scheme := runtime.NewScheme()
	kubescheme.AddToScheme(scheme)
	ownscheme.AddToScheme(scheme)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.kube.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: operator.Name})
	c, err := restore.NewWithOptions(operator.Deps{KubeClient: e.kube, Client: e.client, Informers: set, Recorder: recorder},
		restore.Options{Recheck: time.Second, ActivePoll: 300 * time.Millisecond, IdlePoll: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	certs := &webhook.Certificates{Client: e.kube, Namespace: e.ns, SecretName: "webhook-cert", ServiceName: "cassandra-backup-operator",
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, WebhookConfiguration: "restore-" + e.ns}
	e.restoreWebhook(certs.WebhookConfiguration, "https://"+ln.Addr().String()+webhook.DefaultPath)
	if err := certs.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	server := &webhook.Server{Certificates: certs, Recorder: recorder, Ready: set.Synced,
		Lookup: &webhook.CacheLookup{Datacenters: set.CassandraDataCenterLister(), ConfigMaps: set.ConfigMapLister()},
		Config: webhook.Config{AgentImage: "ghcr.io/cassbackup/cassandra-backup-agent:test"}}
	done := make(chan struct{}, 2)
	go func() { server.Serve(ctx, ln); done <- struct{}{} }()
	set.Start(ctx)
	if !set.WaitForCacheSync(ctx) {
		t.Fatal("informer caches did not sync")
	}
	go func() { c.Run(ctx, 2); done <- struct{}{} }()
	e.runner = &podrunner.Runner{Kube: e.kube, Binaries: map[string]string{"cassandra-backup-agent": podrunner.BuildAgent(t)},
		Root: t.TempDir(), Env: []string{"AGENT_KUBECONFIG=" + cp.KubeconfigPath}}
	t.Cleanup(func() {
		e.runner.Close()
		cancel()
		<-done
		<-done
		broadcaster.Shutdown()
		set.Shutdown()
	})
	return e
}

// restoreWebhook registers the webhook for the test's namespace, as manifests/webhook does
// for every namespace.
func (e *restoreEnv) restoreWebhook(name, url string) {
	fail, none, timeout := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, int32(5)
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "restore.cassandraoperator.instaclustr.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": e.ns}},
			ObjectSelector:    &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: informers.LabelDatacenter, Operator: metav1.LabelSelectorOpExists}}},
			FailurePolicy:     &fail, SideEffects: &none, TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}}}
	if _, err := e.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(e.ctx, cfg, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		e.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// restoreBucket opens the S3 emulator's bucket of location with the namespace's Secret.
func (e *restoreEnv) restoreBucket(location string) storage.Provider {
	e.t.Helper()
	p, _, err := storage.OpenLocation(e.ctx, location, storage.Config{Credentials: storage.StaticCredentials(e.s3.Secret()), Insecure: true})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.Close() })
	return p
}

// restoreBackup backs up node with the agent as the operator drives it (the backup's uid
// in the request), commits it with a topology, and creates the COMPLETED CassandraBackup.
func (e *restoreEnv) restoreBackup(name, location, tag string, node *fakecassandra.Node, hostname string) *v1alpha1.CassandraBackup {
	e.t.Helper()
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: v1alpha1.CassandraBackupSpec{CDC: "src", Cluster: node.ClusterName(), Datacenter: node.Datacenter(), StorageLocation: location,
			SnapshotTag: tag, Secret: restoreSecret, Insecure: true}}
	b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(e.ctx, b, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	req := api.Request{Type: api.TypeBackup, StorageLocation: location, SnapshotTag: tag, CreateMissingBucket: true, Insecure: true,
		K8sNamespace: e.ns, K8sSecretName: restoreSecret, BackupUID: string(b.UID)}
	if err := e.restoreAgent(node, hostname).Backup(e.ctx, req, &agent.Tracker{}); err != nil {
		e.t.Fatalf("backup of %s: %v", hostname, err)
	}
	top := layout.Topology{Timestamp: time.Now().UnixMilli(), ClusterName: node.ClusterName(), SchemaVersion: node.SchemaVersion(),
		Topology: []layout.Host{{Hostname: hostname, Cluster: node.ClusterName(), DC: node.Datacenter(), Rack: node.Rack(), NodeID: node.HostID()}}}
	e.restorePutJSON(location, layout.TopologyKey(top.ClusterName, tag, top.SchemaVersion, time.Now()), top)
	b.Status.State = v1alpha1.BackupCompleted
	if b, err = e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).UpdateStatus(e.ctx, b, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *restoreEnv) restoreAgent(node *fakecassandra.Node, hostname string) *agent.Agent {
	return &agent.Agent{Node: node.Client(), Hostname: hostname, Secrets: secret.Reader{Kube: e.kube}.Source}
}

// restorePutJSON writes v at key, as anyone who can write the bucket can.
func (e *restoreEnv) restorePutJSON(location, key string, v any) {
	e.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.restoreBucket(location).Put(e.ctx, key, bytes.NewReader(data), storage.PutOptions{ContentType: "application/json"}); err != nil {
		e.t.Fatal(err)
	}
}

// restoreDC creates a datacenter restoring backup.
func (e *restoreEnv) restoreDC(name, backup string) *v1alpha1.CassandraDataCenter {
	e.t.Helper()
	nodes := int32(1)
	dc := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: name + "-cluster", Datacenter: "dc1", Nodes: &nodes, Racks: []v1alpha1.Rack{{Name: "rack1"}},
			Restore: &v1alpha1.RestoreSpec{BackupName: backup}}}
	dc, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Create(e.ctx, dc, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return dc
}

// restorePod is a pod of dc as Instaclustr's operator makes them: the data volume at
// /var/lib/cassandra.
func restorePod(name string, dc *v1alpha1.CassandraDataCenter) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{informers.LabelDatacenter: dc.Name, informers.LabelCluster: dc.Spec.Cluster}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "cassandra", Image: "cassandra:4.1",
				VolumeMounts: []corev1.VolumeMount{{Name: "data-volume", MountPath: "/var/lib/cassandra"}}}},
			Volumes: []corev1.Volume{{Name: "data-volume", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// restorePoll polls cond for up to 90s.
func (e *restoreEnv) restorePoll(what string, cond func() (bool, error)) {
	e.t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		return ok, nil
	})
	if err != nil {
		e.t.Fatalf("waiting for %s: %v (last: %v)", what, err, last)
	}
}

// restoreStatus returns dc's status.restore once cond holds.
func (e *restoreEnv) restoreStatus(name, what string, cond func(*v1alpha1.RestoreStatus) bool) *v1alpha1.CassandraDataCenter {
	e.t.Helper()
	var dc *v1alpha1.CassandraDataCenter
	e.restorePoll(what, func() (bool, error) {
		var err error
		dc, err = e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st, _ := json.Marshal(dc.Status.Restore)
		return dc.Status.Restore != nil && cond(dc.Status.Restore), errString(string(st))
	})
	return dc
}

type errString string

func (e errString) Error() string { return string(e) }
