// Package guide runs the user guide's backup and restore on local parts: the operator's
// controllers and webhook in-process against a real kube-apiserver, fake Cassandra nodes
// with the real agent binary as their sidecars, and the pod runner playing the kubelet
// for restored pods. The e2e test and the demo program both use it; nothing here needs a
// testing.T.
package guide

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	ownscheme "github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/scheme"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

// AgentImage is the image the webhook names in injected init containers; the pod runner
// maps its command to the locally built agent.
const AgentImage = "ghcr.io/cassbackup/cassandra-backup-agent:dev"

// Env is one namespace of one Kubernetes cluster (control plane) where the operator's
// controllers and webhook run.
type Env struct {
	// Config reaches the cluster's API server.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file for the same cluster (agents read Secrets with it).
	Kubeconfig string
	// Namespace is where everything lives.
	Namespace string
	// Storage carries endpoint overrides (Azure, GCS) for the operator and agents.
	Storage storage.Config
	// AgentBinary is the built cassandra-backup-agent.
	AgentBinary string
	// Dir holds the nodes' data directories and agent logs.
	Dir string
	// Network, when set, gives every node a pod of its own (see podnet): the fake node's
	// Jolokia listens on the pod's 127.0.0.1:8778 as the sample StatefulSet has it, the
	// agent on the pod's port 4567, and status.podIP is the pod's address. When nil,
	// nodes listen on free ports of 127.0.0.1, which is every pod's IP.
	Network *podnet.Network
	// OwnAccounts runs the operator binary and the agents on their own ServiceAccounts'
	// tokens with the shipped RBAC (InstallShippedRBAC), not as cluster administrators,
	// so a missing rule fails.
	OwnAccounts bool
	// Profile shapes the nodes' pods (labels) and how their agents control them (Jolokia,
	// or the Management API); Instaclustr's when its Name is empty.
	Profile profile.Profile
	// OperatorArgs are added to the operator binary's arguments (StartOperatorBinary);
	// a flag given here overrides the same flag given there.
	OperatorArgs []string
	// AgentMetrics has every node's agent serve its Prometheus metrics
	// (--metrics-listen), at Node.MetricsURL.
	AgentMetrics bool

	// Kube and Client are clients of the cluster.
	Kube   kubernetes.Interface
	Client versioned.Interface
}

// NewEnv fills the clients of an Env.
func NewEnv(cfg *rest.Config, kubeconfig, namespace, agentBinary, dir string, st storage.Config) *Env {
	return &Env{Config: cfg, Kubeconfig: kubeconfig, Namespace: namespace, Storage: st, AgentBinary: agentBinary, Dir: dir,
		Kube: kubernetes.NewForConfigOrDie(cfg), Client: versioned.NewForConfigOrDie(cfg)}
}

// profile returns the Env's profile, Instaclustr's by default.
func (e *Env) profile() profile.Profile {
	if e.Profile.Name == "" {
		return profile.InstaclustrProfile
	}
	return e.Profile
}

// AgentArgs are the agent's endpoint flags for the Env's storage configuration.
func (e *Env) AgentArgs() []string {
	var args []string
	if e.Storage.AzureEndpoint != "" {
		args = append(args, "--azure-endpoint="+e.Storage.AzureEndpoint)
	}
	if e.Storage.GCSEndpoint != "" {
		args = append(args, "--gcs-endpoint="+e.Storage.GCSEndpoint)
	}
	return args
}

// RestoreDone reports whether dc's restore is COMPLETED with all of its n pods; a FAILED
// restore is a Final error, anything else says the state.
func RestoreDone(dc *v1alpha1.CassandraDataCenter, n int) (bool, error) {
	r := dc.Status.Restore
	if r == nil {
		return false, errors.New("no status.restore yet")
	}
	if r.State == v1alpha1.RestoreFailed {
		return false, Final(fmt.Errorf("restore FAILED: %+v", r))
	}
	done := r.State == v1alpha1.RestoreCompleted && len(r.Nodes) == n
	for _, x := range r.Nodes {
		done = done && x.State == v1alpha1.RestoreCompleted
	}
	return done, fmt.Errorf("state %s", r.State)
}

// Final marks an error of a Poll condition as final: polling stops with it at once (a
// FAILED state will not turn COMPLETED).
func Final(err error) error { return &finalError{err} }

type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// Poll calls cond every interval until it returns true, the deadline passes, ctx ends or
// cond returns a Final error; the error then says what was awaited and cond's last error.
func Poll(ctx context.Context, what string, timeout time.Duration, cond func() (bool, error)) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 150*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		var f *finalError
		if errors.As(err, &f) {
			return false, err
		}
		return ok, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w (last: %v)", what, err, last)
	}
	return nil
}

// Operator is the operator's controllers and webhook running in-process.
type Operator struct {
	stop func()
	// WebhookConfiguration is the name of the MutatingWebhookConfiguration it serves.
	WebhookConfiguration string
	// Pid is the operator process's id (StartOperatorBinary), 0 in-process.
	Pid int
}

// Stop stops the controllers and webhook, and removes the webhook configuration.
func (o *Operator) Stop() { o.stop() }

// StartOperator runs the backup and restore controllers and the webhook over the Env's
// namespace; the API server calls the webhook (manifests/webhook, pointed at a loopback
// URL and limited to the namespace) when pods are created. It returns once the API
// server calls the webhook.
func (e *Env) StartOperator(ctx context.Context) (*Operator, error) {
	ctx, cancel := context.WithCancel(ctx)
	set := informers.New(e.Kube, e.Client, informers.Config{Namespaces: []string{e.Namespace}})
	scheme := runtime.NewScheme()
	_ = kubescheme.AddToScheme(scheme)
	_ = ownscheme.AddToScheme(scheme)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: e.Kube.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: operator.Name})

	fail := func(err error) (*Operator, error) {
		cancel()
		broadcaster.Shutdown()
		return nil, err
	}
	if err := e.EnsureOperatorAccount(ctx); err != nil {
		return fail(err)
	}
	deps := operator.Deps{KubeClient: e.Kube, Client: e.Client, Informers: set, Recorder: recorder}
	bc, err := backup.NewWithOptions(deps, backup.Options{Storage: e.Storage, Agents: e.AgentClient(), PollInterval: 300 * time.Millisecond, ImportInterval: 2 * time.Second, MaxSecretBackoff: 2 * time.Second})
	if err != nil {
		return fail(err)
	}
	rc, err := restore.NewWithOptions(deps, restore.Options{Storage: e.Storage, Recheck: time.Second, ActivePoll: 300 * time.Millisecond, IdlePoll: 2 * time.Second})
	if err != nil {
		return fail(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	hook := "cassandra-backup-" + e.Namespace
	cfg, err := WebhookConfiguration(hook, "https://"+ln.Addr().String()+webhook.DefaultPath, e.Namespace)
	if err != nil {
		ln.Close()
		return fail(err)
	}
	if _, err := e.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		ln.Close()
		return fail(err)
	}
	certs := &webhook.Certificates{Client: e.Kube, Namespace: e.Namespace, SecretName: "cassandra-backup-operator-webhook-cert",
		ServiceName: "cassandra-backup-operator", IPs: []net.IP{net.ParseIP("127.0.0.1")}, WebhookConfiguration: hook}
	if err := certs.Ensure(ctx); err != nil {
		ln.Close()
		return fail(err)
	}
	server := &webhook.Server{Certificates: certs,
		Lookup: &webhook.CacheLookup{Datacenters: set.CassandraDataCenterLister(), ConfigMaps: set.ConfigMapLister()},
		Config: webhook.Config{AgentImage: AgentImage, ExtraArgs: e.AgentArgs()},
		Ready:  set.Synced}

	set.Start(ctx)
	if !set.WaitForCacheSync(ctx) {
		ln.Close()
		return fail(errors.New("informer caches did not sync"))
	}
	errs := make(chan error, 3)
	go func() { errs <- server.Serve(ctx, ln) }()
	go func() { errs <- bc.Run(ctx, 4) }()
	go func() { errs <- rc.Run(ctx, 2) }()
	o := &Operator{WebhookConfiguration: hook}
	o.stop = func() {
		cancel()
		for range 3 {
			<-errs
		}
		set.Shutdown()
		broadcaster.Shutdown()
		e.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), hook, metav1.DeleteOptions{})
	}
	if err := e.waitWebhook(ctx); err != nil {
		o.stop()
		return nil, err
	}
	return o, nil
}

// StartOperatorBinary runs the built cassandra-backup-operator over the Env's namespace:
// its backup and restore controllers and its webhook on a loopback port, with a
// certificate for 127.0.0.1 made by the operator itself. The MutatingWebhookConfiguration
// (manifests/webhook, pointed at that port and limited to the namespace) is created
// first; the operator keeps its caBundle. The process gets SIGKILL if this one dies; its
// log goes to logPath. It returns once the API server calls the webhook.
func (e *Env) StartOperatorBinary(ctx context.Context, bin, logPath string) (*Operator, error) {
	id, err := e.operatorIdentity(ctx)
	if err != nil {
		return nil, err
	}
	port, err := controlplane.FreePort()
	if err != nil {
		return nil, err
	}
	hook := id.webhook
	cfg, err := WebhookConfiguration(hook, "https://127.0.0.1:"+strconv.Itoa(port)+webhook.DefaultPath, e.Namespace)
	if err != nil {
		return nil, err
	}
	if _, err := e.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	removeHook := func() {
		e.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), hook, metav1.DeleteOptions{})
	}
	args := []string{"--kubeconfig=" + id.kubeconfig, "--namespace=" + e.Namespace,
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--webhook-port=" + strconv.Itoa(port), "--webhook-bind-address=127.0.0.1", "--webhook-cert-ip=127.0.0.1",
		"--webhook-configuration=" + hook, "--agent-image=" + AgentImage}
	args = append(args, id.args...)
	for _, a := range e.AgentArgs() {
		// The operator reads backups with the same endpoints, and hands them to the
		// restore init containers.
		args = append(args, a, "--agent-restore-arg="+a)
	}
	args = append(args, e.OperatorArgs...)
	logf, err := os.Create(logPath)
	if err != nil {
		removeHook()
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "POD_NAMESPACE="+id.namespace)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		removeHook()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	o := &Operator{WebhookConfiguration: hook, Pid: cmd.Process.Pid}
	o.stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		removeHook()
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-wctx.Done():
		}
	}()
	if err := e.waitWebhook(wctx); err != nil {
		o.stop()
		return nil, fmt.Errorf("%w; operator log: %s", err, tail(logPath))
	}
	return o, nil
}

// waitWebhook polls until the API server calls the webhook: a pod of a datacenter that
// restores a backup with no plan is denied. The probe datacenter is deleted afterwards.
func (e *Env) waitWebhook(ctx context.Context) error {
	dcs := e.Client.CassandraoperatorV1alpha1().CassandraDataCenters(e.Namespace)
	one := int32(1)
	probe := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe"},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: "webhook-probe", Datacenter: "webhook-probe", Nodes: &one,
			Restore: &v1alpha1.RestoreSpec{BackupName: "webhook-probe"}}}
	prof := profile.InstaclustrProfile
	_, err := dcs.Create(ctx, probe, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		// A cluster without our CassandraDataCenter CRD: probe through cass-operator's.
		prof = profile.CassOperatorProfile
		probe.Spec.Cluster, probe.Spec.Datacenter = "webhook-probe", "webhook-probe"
		err = e.createCassDatacenterProbe(ctx, probe.Name)
	} else {
		defer dcs.Delete(context.WithoutCancel(ctx), probe.Name, metav1.DeleteOptions{})
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	i := 0
	return Poll(ctx, "the API server to call the webhook", 90*time.Second, func() (bool, error) {
		i++
		pod := ProfilePod(prof, fmt.Sprintf("webhook-probe-%d", i), probe)
		_, err := e.Kube.CoreV1().Pods(e.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err == nil {
			e.Kube.CoreV1().Pods(e.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
			return false, errors.New("pod admitted: webhook not called yet")
		}
		return strings.Contains(err.Error(), "restore plan is not ready"), err
	})
}

// createCassDatacenterProbe creates a cass-operator CassandraDatacenter that restores a
// backup that does not exist; it is deleted when the test ends.
func (e *Env) createCassDatacenterProbe(ctx context.Context, name string) error {
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cassdc.GVR.GroupVersion().String(), "kind": cassdc.Kind,
		"metadata": map[string]any{"name": name, "annotations": map[string]any{cassdc.AnnotationRestoreFrom: name}},
		"spec": map[string]any{"clusterName": name, "serverType": "cassandra", "serverVersion": "4.1.5", "size": int64(1),
			"storageConfig": map[string]any{}},
	}}
	_, err = dyn.Resource(cassdc.GVR).Namespace(e.Namespace).Create(ctx, u, metav1.CreateOptions{})
	if err == nil {
		go func() {
			<-ctx.Done()
			dyn.Resource(cassdc.GVR).Namespace(e.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{})
		}()
	}
	return err
}

// WebhookConfiguration reads manifests/webhook and points it at url, for namespace ns only.
func WebhookConfiguration(name, url, ns string) (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, "manifests", "webhook", "mutatingwebhookconfiguration.yaml"))
	if err != nil {
		return nil, err
	}
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("manifests/webhook: %w", err)
	}
	if len(cfg.Webhooks) != len(profile.Shipped()) {
		return nil, fmt.Errorf("manifests/webhook has %d webhooks, want one per pod profile", len(cfg.Webhooks))
	}
	cfg.Name = name
	for i := range cfg.Webhooks {
		w := &cfg.Webhooks[i]
		w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url}
		w.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{ns}},
		}}
	}
	return &cfg, nil
}

// AgentMetricsPort is the agent's metrics port in a pod of its own (the chart's and the
// sample's).
const AgentMetricsPort = 9102

// Node is a fake Cassandra node with the real agent binary as its sidecar, and its Pod
// registered in the API server as running.
type Node struct {
	// Name is the pod's name, the node's host name.
	Name string
	// Rack is the node's rack.
	Rack string
	// Fake is the fake Cassandra node.
	Fake *fakecassandra.Node
	// IP is the pod's address, its status.podIP.
	IP string
	// AgentURL is the agent's operations API.
	AgentURL string
	// MetricsURL is the agent's /metrics when Env.AgentMetrics is set.
	MetricsURL string

	pod   *podnet.Pod
	agent *exec.Cmd
	done  chan struct{}
}

// Stop stops the agent and the node, and removes the pod's network.
func (n *Node) Stop() {
	if n.agent != nil && n.agent.Process != nil {
		n.agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			n.agent.Process.Kill()
			<-n.done
		}
	}
	if n.Fake != nil {
		n.Fake.Close()
	}
	if n.pod != nil {
		n.pod.Close()
	}
}

// Table is user data written to a node as one SSTable.
type Table struct {
	Keyspace, Name string
	Size           int
}

// StartNode starts a fake node of cluster/dc in rack with the tables written, its agent
// (`cassandra-backup-agent serve`, reading Secrets with the Env's kubeconfig) and creates
// its running Pod with the Instaclustr labels and named ports. With a Network the node
// and its agent run in a pod of their own; otherwise on loopback ports.
func (e *Env) StartNode(ctx context.Context, name, cluster, dc, rack string, seed uint64, tables []Table) (_ *Node, err error) {
	dataDir := filepath.Join(e.Dir, name, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	n := &Node{Name: name, Rack: rack, IP: "127.0.0.1"}
	defer func() {
		if err != nil {
			n.Stop()
		}
	}()
	prof := e.profile()
	mgmt := prof.NodeControl == profile.ManagementAPI
	cfg := fakecassandra.Config{DataDirs: []string{dataDir}, ClusterName: cluster, Datacenter: dc, Rack: rack, Seed: seed, NumTokens: 8,
		ManagementAPI: mgmt}
	listen := "127.0.0.1:"
	start := func(cmd *exec.Cmd) error { return cmd.Start() }
	if e.Network != nil {
		if n.pod, err = e.Network.NewPod(name); err != nil {
			return nil, err
		}
		n.IP = n.pod.IP.String()
		cfg.Listen = "127.0.0.1:8778" // the pod's own loopback, as the sample binds Jolokia
		if mgmt {
			cfg.Listen = "127.0.0.1:8080" // where the Management API listens in a cass-operator pod
		}
		err = n.pod.Do(func() (err error) {
			n.Fake, err = fakecassandra.Start(cfg)
			return err
		})
		listen, start = ":", n.pod.Start
	} else {
		n.Fake, err = fakecassandra.Start(cfg)
	}
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if err := n.Fake.WriteSSTable(t.Keyspace, t.Name, t.Size); err != nil {
			return nil, err
		}
	}
	port := backup.DefaultAgentPort
	if e.Network == nil {
		if port, err = controlplane.FreePort(); err != nil {
			return nil, err
		}
	}
	n.AgentURL = "http://" + net.JoinHostPort(n.IP, strconv.Itoa(port))
	agentKubeconfig, err := e.AgentKubeconfig(ctx)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(e.Dir, name, "agent.log"))
	if err != nil {
		return nil, err
	}
	control := "--jolokia-url=" + n.Fake.URL()
	if mgmt {
		control = "--node-control=management-api --management-api-url=" + n.Fake.ManagementAPIURL() + " --data-dir=" + dataDir
	}
	args := append(append([]string{"serve", "--listen=" + listen + strconv.Itoa(port)}, strings.Fields(control)...),
		append([]string{"--kubeconfig=" + agentKubeconfig, "--pod-namespace=" + e.Namespace, "--hostname=" + name}, e.AgentArgs()...)...)
	if e.AgentMetrics {
		mport := AgentMetricsPort
		if e.Network == nil {
			if mport, err = controlplane.FreePort(); err != nil {
				return nil, err
			}
		}
		n.MetricsURL = "http://" + net.JoinHostPort(n.IP, strconv.Itoa(mport)) + "/metrics"
		args = append(args, "--metrics-listen="+listen+strconv.Itoa(mport), "--logging-format=json")
	}
	cmd := exec.Command(e.AgentBinary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := start(cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start agent of %s: %w", name, err)
	}
	n.agent, n.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(n.done) }()
	err = Poll(ctx, "the agent of "+name, 60*time.Second, func() (bool, error) {
		select {
		case <-n.done:
			return false, fmt.Errorf("agent exited: %s", tail(filepath.Join(e.Dir, name, "agent.log")))
		default:
		}
		resp, err := http.Get(n.AgentURL + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %d", resp.StatusCode)
	})
	if err != nil {
		return nil, err
	}
	if err := e.createRunningPod(ctx, name, cluster, dc, rack, n.IP, port, urlPort(n.Fake.URL())); err != nil {
		return nil, err
	}
	return n, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func urlPort(u string) int {
	host := strings.SplitN(strings.TrimPrefix(u, "http://"), "/", 2)[0]
	_, p, _ := net.SplitHostPort(host)
	port, _ := strconv.Atoi(p)
	return port
}

// createRunningPod creates a source node's Pod and marks it running at ip.
func (e *Env) createRunningPod(ctx context.Context, name, cluster, dc, rack, ip string, agentPort, jolokiaPort int) error {
	lbl := e.profile().Labels
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			lbl.Cluster: cluster, lbl.Datacenter: dc, lbl.Rack: rack}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "cassandra", Image: "cassandra:4.1",
				Ports: []corev1.ContainerPort{{Name: "jolokia", ContainerPort: int32(jolokiaPort)}}}, // pod-local: only the agent calls it
			{Name: "agent", Image: AgentImage, Args: []string{"serve"},
				Ports: []corev1.ContainerPort{{Name: backup.DefaultAgentPortName, ContainerPort: int32(agentPort)}}},
		}},
	}
	created, err := e.Kube.CoreV1().Pods(e.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create pod %s: %w", name, err)
	}
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	if _, err := e.Kube.CoreV1().Pods(e.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("set status of pod %s: %w", name, err)
	}
	return nil
}

// RestoredPod is a pod of dc as its StatefulSet would create it: labelled for the
// datacenter, a Cassandra container with the data volume at /var/lib/cassandra and the
// agent sidecar. The webhook adds the restore.
func RestoredPod(name string, dc *v1alpha1.CassandraDataCenter) *corev1.Pod {
	return ProfilePod(profile.InstaclustrProfile, name, dc)
}

// ProfilePod is RestoredPod labelled the way profile p labels pods.
func ProfilePod(p profile.Profile, name string, dc *v1alpha1.CassandraDataCenter) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			p.Labels.Datacenter: dc.Spec.Datacenter, p.Labels.Cluster: dc.Spec.Cluster}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "cassandra", Image: "cassandra:4.1",
					VolumeMounts: []corev1.VolumeMount{{Name: "data-volume", MountPath: "/var/lib/cassandra"}}},
				{Name: "agent", Image: AgentImage, Args: []string{"serve"},
					Ports: []corev1.ContainerPort{{Name: backup.DefaultAgentPortName, ContainerPort: backup.DefaultAgentPort}}},
			},
			Volumes: []corev1.Volume{{Name: "data-volume", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// Files returns the SSTable files of the data directory's tables whose keyspace keep
// selects, by path relative to the data directory.
func Files(dataDir string, keep func(ks string) bool) (map[string][]byte, error) {
	return fakecassandra.DataFiles([]string{dataDir}, func(ks, _ string) bool { return keep(ks) })
}

// Restored selects what a restore into a new cluster brings back: user keyspaces and
// system_schema.
func Restored(ks string) bool { return ks == "system_schema" || !cassandra.IsSystemKeyspace(ks) }

// All selects every keyspace.
func All(string) bool { return true }

// CompareFiles returns an error naming the first difference between want and got, and
// the number of bytes compared.
func CompareFiles(want, got map[string][]byte) (int64, error) {
	if len(want) == 0 {
		return 0, errors.New("the source has no files")
	}
	var n int64
	for p, b := range want {
		g, ok := got[p]
		if !ok {
			return n, fmt.Errorf("%s is missing", p)
		}
		if !bytes.Equal(g, b) {
			return n, fmt.Errorf("%s differs from the source (%d vs %d bytes)", p, len(g), len(b))
		}
		n += int64(len(b))
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			return n, fmt.Errorf("%s is restored but not in the source", p)
		}
	}
	return n, nil
}

// FileBucketParent creates a directory for a file:// bucket directly under /tmp. A
// file:// location of five or more path segments names a node, not a bucket (Esop's
// rule), so a bucket under a deep temporary directory would be refused. Remove it when
// done.
func FileBucketParent() (string, error) {
	return os.MkdirTemp("/tmp", "cassandra-backup-")
}

// TokensJVMOptions are the JVM options a restored node must start with.
func TokensJVMOptions(tokens []string) string {
	return "-Dcassandra.initial_token=" + strings.Join(tokens, ",") + " -Dcassandra.auto_bootstrap=false"
}
