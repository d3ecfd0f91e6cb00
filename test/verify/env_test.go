// Package verify_test runs restore drills end to end: CassandraBackupVerifications on a
// real kube-apiserver, the verification controller creating the drill's pod, the pod
// runner playing the kubelet with the real agent binary, against each storage emulator.
package verify_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/verification"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/azure"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/gcs"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
	"github.com/cassbackup/cassandra-backup-operator/test/verifyfixture"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

const (
	cluster, dc = "drill-cluster", "dc1"
	secretName  = "drill-secret"
)

// target is a bucket in one storage provider's emulator.
type target struct {
	location string
	secret   map[string][]byte
	storage  storage.Config // endpoints
}

func fileTarget(t *testing.T) target {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	return target{location: "file://" + filepath.Join(dir, "cassandra-bucket")}
}

func s3Target(t *testing.T) target {
	s := emulators.S3(t)
	return target{location: "s3://drill-bucket", secret: s.Secret()}
}

func azureTarget(t *testing.T) target {
	a := emulators.Azurite(t)
	return target{location: "azure://drill-bucket", secret: a.Secret(), storage: storage.Config{AzureEndpoint: a.Endpoint}}
}

func gcsTarget(t *testing.T) target {
	g := emulators.GCS(t)
	g.CreateBucket(t, "drill-bucket")
	return target{location: "gcp://drill-bucket", secret: map[string][]byte{}, storage: storage.Config{GCSEndpoint: g.Endpoint}}
}

// env is a namespace with the verification controller and a kubelet for its pods.
type env struct {
	t      *testing.T
	ctx    context.Context
	kube   kubernetes.Interface
	client versioned.Interface
	ns     string
	tgt    target
	// ran counts the drill pods the kubelet ran.
	mu  sync.Mutex
	ran map[string]podrunner.Result
}

func newEnv(t *testing.T, tgt target) *env {
	t.Helper()
	cp := controlplane.Shared(t)
	_, tctx := ktesting.NewTestContext(t)
	ctx, cancel := context.WithCancel(tctx)
	e := &env{t: t, ctx: ctx, kube: kubernetes.NewForConfigOrDie(cp.Config()), client: versioned.NewForConfigOrDie(cp.Config()),
		ns: cp.Namespace(t), tgt: tgt, ran: map[string]podrunner.Result{}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: e.ns}, Data: tgt.secret}
	if _, err := e.kube.CoreV1().Secrets(e.ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	set := informers.New(e.kube, e.client, informers.Config{Namespaces: []string{e.ns}})
	deps := operator.Deps{KubeClient: e.kube, Client: e.client, Informers: set,
		Config: operator.Config{AgentImage: "ghcr.io/cassbackup/cassandra-backup-agent:test",
			AzureEndpoint: tgt.storage.AzureEndpoint, GCSEndpoint: tgt.storage.GCSEndpoint}}
	c, err := verification.NewWithOptions(deps, verification.Options{PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	set.Start(ctx)
	if !set.WaitForCacheSync(ctx) {
		t.Fatal("caches did not sync")
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, 2) }()
	runner := &podrunner.Runner{Kube: e.kube, Root: t.TempDir(),
		Binaries: map[string]string{"cassandra-backup-agent": podrunner.BuildAgent(t)},
		// The drill reads the Secret through the API, as with its service account.
		Env: []string{"AGENT_KUBECONFIG=" + cp.KubeconfigPath}}
	kubelet := make(chan struct{})
	go func() { defer close(kubelet); e.kubelet(runner) }()
	t.Cleanup(func() {
		cancel()
		<-kubelet
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
		set.Shutdown()
	})
	return e
}

// kubelet runs each drill pod once, as a kubelet would on the node it was scheduled to.
func (e *env) kubelet(r *podrunner.Runner) {
	started := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for e.ctx.Err() == nil {
		pods, err := e.kube.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: verification.LabelVerification})
		if err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				if started[p.Name] || p.DeletionTimestamp != nil {
					continue
				}
				started[p.Name] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := r.RunContainers(e.ctx, p)
					if err != nil && e.ctx.Err() == nil {
						e.t.Errorf("kubelet: pod %s: %v", p.Name, err)
					}
					if len(res) > 0 {
						e.mu.Lock()
						e.ran[p.Name] = res[0]
						e.mu.Unlock()
					}
				}()
			}
		}
		select {
		case <-e.ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// provider opens the target's bucket for the test's own reads and writes.
func (e *env) provider() storage.Provider {
	cfg := e.tgt.storage
	cfg.Credentials, cfg.Insecure = storage.StaticCredentials(e.tgt.secret), true
	p, _, err := storage.OpenLocation(e.ctx, e.tgt.location, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { p.Close() })
	return p
}

// backup backs the nodes up under tag and creates a COMPLETED CassandraBackup for it.
func (e *env) backup(name, tag string, nodes []verifyfixture.Node) {
	e.t.Helper()
	verifyfixture.Backup(e.t, e.tgt.location, tag, e.tgt.secret, e.tgt.storage, nodes)
	e.backupObject(name, tag)
}

// backupSpec is the spec of a CassandraBackup of the env's bucket.
func (e *env) backupSpec(tag string) v1alpha1.CassandraBackupSpec {
	return v1alpha1.CassandraBackupSpec{CDC: "drill-dc", Cluster: cluster, Datacenter: dc, StorageLocation: e.tgt.location,
		SnapshotTag: tag, Secret: secretName, Insecure: true}
}

// backupObject creates a COMPLETED CassandraBackup for tag.
func (e *env) backupObject(name, tag string) {
	e.t.Helper()
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: e.backupSpec(tag)}
	b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(e.ctx, b, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	b.Status.State = v1alpha1.BackupCompleted
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).UpdateStatus(e.ctx, b, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// drill creates a verification of backup and waits until cond holds for it.
func (e *env) drill(name string, spec v1alpha1.CassandraBackupVerificationSpec) {
	e.t.Helper()
	v := &v1alpha1.CassandraBackupVerification{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns}, Spec: spec}
	if _, err := e.client.CassandraoperatorV1alpha1().CassandraBackupVerifications(e.ns).Create(e.ctx, v, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// wait polls the verification until cond holds.
func (e *env) wait(name, what string, cond func(*v1alpha1.CassandraBackupVerification) bool) *v1alpha1.CassandraBackupVerification {
	e.t.Helper()
	var v *v1alpha1.CassandraBackupVerification
	err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		var err error
		v, err = e.client.CassandraoperatorV1alpha1().CassandraBackupVerifications(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		return err == nil && cond(v), nil
	})
	if err != nil {
		b, _ := json.MarshalIndent(v, "", "  ")
		e.t.Fatalf("waiting for %s of %s: %v\n%s", what, name, err, b)
	}
	return v
}

func finished(v *v1alpha1.CassandraBackupVerification) bool {
	return v.Status.State == v1alpha1.VerificationCompleted || v.Status.State == v1alpha1.VerificationFailed
}

func removeFile(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}
