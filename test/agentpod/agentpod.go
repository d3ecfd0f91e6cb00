// Package agentpod runs, for the suites on the real control plane, one Cassandra node as
// the operator sees it: a fake node (test/fakecassandra) with the real agent in front of it
// and a running Pod object of its datacenter. With the pod network (test/podnet, as root)
// both live in a pod of their own: Jolokia on the pod's 127.0.0.1:8778, the agent's
// listener on the pod's port 4567 (the agent itself runs in the test process and calls
// Jolokia through the pod); otherwise on loopback ports.
package agentpod

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

// JolokiaPodPort is where a pod's Jolokia listens on the pod's own 127.0.0.1, as the
// sample StatefulSet binds it.
const JolokiaPodPort = 8778

// Config describes one node.
type Config struct {
	// Kube is the control plane's client: the Pod is created there, and the agent reads
	// Secrets and authenticates callers (agent.KubeAuth) through it.
	Kube kubernetes.Interface
	// Namespace is the Pod's namespace.
	Namespace string
	// Name is the Pod's name, and the agent's host name.
	Name string
	// Cassandra configures the fake node; its ClusterName, Datacenter and Rack label the
	// Pod. Listen and DataDirs are set on the pod network.
	Cassandra fakecassandra.Config
	// PodCluster, when set, is the Pod's cluster label instead of Cassandra.ClusterName
	// (a node that reports another cluster name than its pod's).
	PodCluster string
	// UserAgent, when set, is the User-Agent of the agent's Jolokia client.
	UserAgent string
}

// Node is a running node: fake Cassandra, agent and Pod. Start registers its cleanup.
type Node struct {
	// Name is the Pod's name.
	Name string
	// Fake is the fake Cassandra node.
	Fake *fakecassandra.Node
	// Pod is the node's pod on the pod network; nil on loopback.
	Pod *podnet.Pod
	// IP is the Pod's IP, and Port the agent's.
	IP   string
	Port int
	// Posts counts the POST /operations the agent answered other than busy (429, a
	// submission that starts nothing), over restarts.
	Posts atomic.Int32

	cfg    Config
	mu     sync.Mutex
	server *agent.Server
	hs     *http.Server
	cancel context.CancelFunc
}

// Start starts the fake node, its agent and its running Pod.
func Start(t testing.TB, cfg Config) *Node {
	t.Helper()
	network, err := podnet.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{Name: cfg.Name, IP: "127.0.0.1", cfg: cfg}
	fc := cfg.Cassandra
	if network != nil {
		if n.Pod, err = network.NewPod(cfg.Name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Pod.Close() })
		n.IP = n.Pod.IP.String()
		fc.Listen = "127.0.0.1:" + strconv.Itoa(JolokiaPodPort)
		fc.DataDirs = []string{t.TempDir()}
		if err := n.Pod.Do(func() (err error) { n.Fake, err = fakecassandra.Start(fc); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Fake.Close() })
	} else {
		n.Fake = fakecassandra.New(t, fc)
	}
	ln, err := n.listen(0)
	if err != nil {
		t.Fatal(err)
	}
	n.Port = ln.Addr().(*net.TCPAddr).Port
	n.serve(ln)
	t.Cleanup(n.Stop)
	n.createPod(t)
	return n
}

// listen listens for the agent: on the pod's agent port (port 0) or a free loopback port.
func (n *Node) listen(port int) (net.Listener, error) {
	if n.Pod == nil {
		return net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	}
	if port == 0 {
		port = plan.DefaultAgentPort
	}
	return n.Pod.Listen("tcp", fmt.Sprintf(":%d", port))
}

// URL is the agent's address as the operator reaches it.
func (n *Node) URL() string { return "http://" + net.JoinHostPort(n.IP, strconv.Itoa(n.Port)) }

// Jolokia is the node's Jolokia client as the agent in its pod reaches it.
func (n *Node) Jolokia() *jolokia.Client {
	j := n.Fake.Client()
	j.UserAgent = n.cfg.UserAgent
	if n.Pod != nil {
		j.Client = n.Pod.HTTPClient()
	}
	return j
}

// serve runs a fresh agent (no operations) on ln.
func (n *Node) serve(ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent.Agent{Node: n.Jolokia(), Hostname: n.Name, Secrets: secret.Reader{Kube: n.cfg.Kube}.Source}
	srv := agent.NewServer(ctx, a)
	srv.Guard = &agent.KubeAuth{Kube: n.cfg.Kube, Namespace: n.cfg.Namespace}
	h := srv.Handler()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/operations" {
			h.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code != http.StatusTooManyRequests {
			n.Posts.Add(1)
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	n.mu.Lock()
	n.server, n.hs, n.cancel = srv, hs, cancel
	n.mu.Unlock()
}

// Stop stops the agent: its operations are cancelled and forgotten.
func (n *Node) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hs == nil {
		return
	}
	n.hs.Close()
	n.cancel()
	n.server.Wait()
	n.hs = nil
}

// Restart stops the agent and starts a new one on the same port: it knows no operation.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = n.listen(n.Port); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restart agent on port %d: %v", n.Port, err)
	}
	n.serve(ln)
}

// createPod creates the node's running Pod.
func (n *Node) createPod(t testing.TB) {
	t.Helper()
	c := n.cfg.Cassandra
	labels := Labels{Cluster: c.ClusterName, Datacenter: c.Datacenter, Rack: c.Rack}
	if n.cfg.PodCluster != "" {
		labels.Cluster = n.cfg.PodCluster
	}
	CreatePod(t, n.cfg.Kube, n.cfg.Namespace, n.Name, labels, n.IP, n.Port, JolokiaPort(n.Fake))
}

// Labels are a Pod's cluster, datacenter and rack.
type Labels struct{ Cluster, Datacenter, Rack string }

// CreatePod creates a running Pod of a datacenter at ip whose agent and Jolokia ports are
// the given ports (Jolokia's is pod-local: only the agent calls it).
func CreatePod(t testing.TB, kube kubernetes.Interface, ns, name string, l Labels, ip string, agentPort, jolokiaPort int) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			informers.LabelCluster: l.Cluster, informers.LabelDatacenter: l.Datacenter, informers.LabelRack: l.Rack}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "cassandra", Image: "cassandra:4.1",
			Ports: []corev1.ContainerPort{
				{Name: plan.AgentPortName, ContainerPort: int32(agentPort)},
				{Name: "jolokia", ContainerPort: int32(jolokiaPort)},
			},
		}}},
	}
	ctx := context.Background()
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set status of pod %s: %v", name, err)
	}
}

// JolokiaPort is the port of a fake node's Jolokia.
func JolokiaPort(f *fakecassandra.Node) int {
	u := strings.TrimPrefix(f.URL(), "http://")
	_, p, _ := net.SplitHostPort(strings.SplitN(u, "/", 2)[0])
	port, _ := strconv.Atoi(p)
	return port
}

// statusWriter records the status code a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}
