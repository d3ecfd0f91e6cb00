// Package controlplane runs a real etcd and kube-apiserver on local ports for tests
// (kube-apiserver on 127.0.0.1, or on the pod network's host side, see Options.Address):
// client-certificate authentication, RBAC on, the project's CRDs installed. The binaries
// come from hack/tools.sh (built once from the Go module proxy and cached by version).
// When they cannot be built or started, the caller gets an error and tests fail.
package controlplane

import (
	"bytes"
	"context"
	"crypto/tls"
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

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
)

// Options configures Start. The zero value starts a control plane with the project's CRDs.
type Options struct {
	// Dir holds etcd's data, certificates, logs and the kubeconfig; a new temporary
	// directory, removed by Stop, when empty.
	Dir string
	// CRDDir is the directory of CRD manifests to install; manifests/crds of the
	// project when empty.
	CRDDir string
	// SkipCRDs starts the control plane without installing any CRD.
	SkipCRDs bool
	// ExtraAPIServerArgs are appended to kube-apiserver's command line.
	ExtraAPIServerArgs []string
	// Address is where kube-apiserver listens, the address its serving certificate
	// names: podnet.HostIP() when empty, which is 127.0.0.1 unless CASSBACKUP_PODNET=1
	// puts the tests' pods on the pod network (then the network's host side, which pods
	// reach).
	Address string
	// ControllerManager also runs kube-controller-manager (built from the same
	// k8s.io/kubernetes as the API server) with the namespace and garbage-collector
	// controllers, so namespaces finish deleting and owner references are collected.
	// Off by default (and for Shared): about 90 MiB and 0.5 s, and its garbage collector
	// would act behind tests that assert what the operator alone does.
	ControllerManager bool
}

// ControlPlane is a running etcd and kube-apiserver.
type ControlPlane struct {
	// Dir holds the data, certificates, logs and kubeconfig.
	Dir string
	// KubeconfigPath is a kubeconfig for the cluster administrator (group system:masters).
	KubeconfigPath string
	// URL is the kube-apiserver's https address.
	URL string
	// CAPEM is the certificate authority that signed the serving and client certificates.
	CAPEM []byte

	config  *rest.Config
	etcdURL string
	ownDir  bool
	etcd    *process
	apiserv *process
	kcm     *process
	// kcmStartup is how long kube-controller-manager took to answer /healthz.
	kcmStartup time.Duration
}

// Start runs etcd and kube-apiserver, waits until the API server is ready and installs
// the CRDs. It returns an error that says what failed, with the tail of the failing
// program's log.
func Start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	etcdBin, err := ToolPath("etcd")
	if err != nil {
		return nil, err
	}
	apiserverBin, err := ToolPath("kube-apiserver")
	if err != nil {
		return nil, err
	}
	kcmBin := ""
	if opts.ControllerManager {
		if kcmBin, err = ToolPath("kube-controller-manager"); err != nil {
			return nil, err
		}
	}
	if opts.Address == "" {
		if opts.Address, err = podnet.HostIP(); err != nil {
			return nil, err
		}
	}
	addr := net.ParseIP(opts.Address)
	if addr == nil {
		return nil, fmt.Errorf("controlplane: address %q is not an IP address", opts.Address)
	}
	cp := &ControlPlane{Dir: opts.Dir}
	if cp.Dir == "" {
		if cp.Dir, err = os.MkdirTemp("", "controlplane-"); err != nil {
			return nil, err
		}
		cp.ownDir = true
	}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	certDir := filepath.Join(cp.Dir, "pki")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	ca, err := newPKI(certDir)
	if err != nil {
		return nil, err
	}
	cp.CAPEM = ca.caPEM
	serving := []net.IP{addr}
	if !addr.IsLoopback() {
		serving = append(serving, net.ParseIP("127.0.0.1"))
	}
	if _, _, err := ca.issue("apiserver", "kube-apiserver", nil, serving); err != nil {
		return nil, err
	}
	adminCert, adminKey, err := ca.issue("admin", "admin", []string{"system:masters"}, nil)
	if err != nil {
		return nil, err
	}
	// The controller manager's own identity, as kubeadm names it; system:masters rather
	// than the bootstrap role, since with --use-service-account-credentials=false every
	// controller acts as it (the namespace controller deletes every kind).
	kcmCert, kcmKey, err := ca.issue("controller-manager", "system:kube-controller-manager", []string{"system:masters"}, nil)
	if err != nil {
		return nil, err
	}
	if err := ca.serviceAccountKey(); err != nil {
		return nil, err
	}

	if err := cp.startEtcd(ctx, etcdBin); err != nil {
		return nil, err
	}
	if err := cp.startAPIServer(ctx, apiserverBin, certDir, opts.Address, opts.ExtraAPIServerArgs); err != nil {
		return nil, err
	}
	cp.config = &rest.Config{
		Host:            cp.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.caPEM, CertData: adminCert, KeyData: adminKey},
		QPS:             500,
		Burst:           1000,
	}
	if err := cp.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := cp.waitReady(ctx); err != nil {
		return nil, err
	}
	if !opts.SkipCRDs {
		dir := opts.CRDDir
		if dir == "" {
			root, err := RepoRoot()
			if err != nil {
				return nil, err
			}
			dir = filepath.Join(root, "manifests", "crds")
		}
		if err := cp.InstallCRDs(ctx, dir); err != nil {
			return nil, err
		}
	}
	if opts.ControllerManager {
		// After the CRDs, so the garbage collector's first discovery sees them.
		if err := cp.startControllerManager(ctx, kcmBin, kcmCert, kcmKey); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// Config returns a new copy of the administrator's client configuration.
func (cp *ControlPlane) Config() *rest.Config { return rest.CopyConfig(cp.config) }

// Stop ends kube-controller-manager, kube-apiserver and etcd and removes the directory
// Start created.
func (cp *ControlPlane) Stop() {
	cp.kcm.stop()
	cp.apiserv.stop()
	cp.etcd.stop()
	if cp.ownDir {
		os.RemoveAll(cp.Dir)
	}
}

// StopAPIServer ends kube-apiserver alone, leaving etcd running.
func (cp *ControlPlane) StopAPIServer() { cp.apiserv.stop() }

func (cp *ControlPlane) startEtcd(ctx context.Context, bin string) error {
	ports, err := freePorts("127.0.0.1", 2)
	if err != nil {
		return err
	}
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	cp.etcd, err = startProcess(bin, filepath.Join(cp.Dir, "etcd.log"),
		"--name=default",
		"--data-dir="+filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=default="+peer,
		"--unsafe-no-fsync=true",
		"--quota-backend-bytes=4294967296",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	if err := cp.etcd.waitHealthy(ctx, "etcd", &http.Client{Timeout: time.Second}, client+"/health", 30*time.Second); err != nil {
		return err
	}
	cp.etcdURL = client
	return nil
}

func (cp *ControlPlane) startAPIServer(_ context.Context, bin, certDir, addr string, extra []string) error {
	ports, err := freePorts(addr, 1)
	if err != nil {
		return err
	}
	cp.URL = "https://" + net.JoinHostPort(addr, strconv.Itoa(ports[0]))
	args := []string{
		"--etcd-servers=" + cp.etcdURL,
		"--bind-address=" + addr,
		"--advertise-address=" + addr,
		"--secure-port=" + strconv.Itoa(ports[0]),
		"--cert-dir=" + certDir,
		"--tls-cert-file=" + filepath.Join(certDir, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(certDir, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(certDir, "ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(certDir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(certDir, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		// Without a controller manager nobody creates service accounts or keeps the
		// kubernetes Service's endpoints; the admission plugin would reject every pod.
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--v=1",
	}
	cp.apiserv, err = startProcess(bin, filepath.Join(cp.Dir, "kube-apiserver.log"), append(args, extra...)...)
	return err
}

// startControllerManager runs kube-controller-manager with the namespace and garbage
// collector controllers, as one identity (no service-account credentials, so no token
// controller is needed), no leader election, serving its health on 127.0.0.1, and waits
// until /healthz answers.
func (cp *ControlPlane) startControllerManager(ctx context.Context, bin string, cert, key []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: cp.URL, CertificateAuthorityData: cp.CAPEM}
	cfg.AuthInfos["kcm"] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "kcm"}
	cfg.CurrentContext = "test"
	kubeconfig := filepath.Join(cp.Dir, "kube-controller-manager.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		return err
	}
	ports, err := freePorts("127.0.0.1", 1)
	if err != nil {
		return err
	}
	certDir := filepath.Join(cp.Dir, "kube-controller-manager")
	started := time.Now()
	cp.kcm, err = startProcess(bin, filepath.Join(cp.Dir, "kube-controller-manager.log"),
		"--kubeconfig="+kubeconfig,
		"--controllers=namespace,garbagecollector",
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[0]),
		"--cert-dir="+certDir,
		"--v=1",
	)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		// Its serving certificate is self-signed in --cert-dir; /healthz says nothing secret.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health check
	}}
	url := "https://127.0.0.1:" + strconv.Itoa(ports[0]) + "/healthz"
	if err := cp.kcm.waitHealthy(ctx, "kube-controller-manager", hc, url, 60*time.Second); err != nil {
		return err
	}
	cp.kcmStartup = time.Since(started)
	return nil
}

// ControllerManagerLog returns the tail of kube-controller-manager's log ("" when it
// does not run), for a failing test's message.
func (cp *ControlPlane) ControllerManagerLog() string {
	if cp.kcm == nil {
		return ""
	}
	return cp.kcm.logTail()
}

func (cp *ControlPlane) waitReady(ctx context.Context) error {
	client, err := kubernetes.NewForConfig(cp.Config())
	if err != nil {
		return err
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if cp.apiserv.exited() {
			return false, errors.New("kube-apiserver exited")
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Raw()
		if err != nil {
			last = err.Error()
			return false, nil
		}
		return string(body) == "ok", nil
	})
	if err != nil {
		return fmt.Errorf("kube-apiserver did not become ready (last answer: %s): %w\n%s", last, err, cp.apiserv.logTail())
	}
	return nil
}

// InstallCRDs creates every CustomResourceDefinition in dir's YAML files and waits until
// each is established.
func (cp *ControlPlane) InstallCRDs(ctx context.Context, dir string) error {
	client, err := apiextensionsclient.NewForConfig(cp.Config())
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRD manifests in %s", dir)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", crd.Name, err)
		}
		err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range got.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", crd.Name, err)
		}
	}
	// Discovery can lag a moment behind the Established condition; clients that map
	// kinds to resources (kubectl) need it.
	disc := client.Discovery()
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, err := disc.ServerResourcesForGroupVersion("cassandraoperator.instaclustr.com/v1alpha1")
		return err == nil, nil
	})
}

func (cp *ControlPlane) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: cp.URL, CertificateAuthorityData: cp.config.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cp.config.CertData, ClientKeyData: cp.config.KeyData}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "test"
	cp.KubeconfigPath = filepath.Join(cp.Dir, "kubeconfig")
	return clientcmd.WriteToFile(*cfg, cp.KubeconfigPath)
}

// Kubectl runs kubectl against this control plane and returns its standard output; the
// error carries standard error.
func (cp *ControlPlane) Kubectl(ctx context.Context, stdin []byte, args ...string) (string, error) {
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("kubectl is needed on PATH: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", cp.KubeconfigPath}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// process is a child program whose output goes to a log file. It dies with the test
// process (PDEATHSIG), so nothing outlives a killed test binary.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProcess(bin, logPath string, args ...string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, and SIGKILL when the program has not exited within ten seconds.
func (p *process) stop() {
	if p == nil || p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitHealthy polls url until it answers 200 OK, failing early when the program exits;
// the error carries the tail of its log.
func (p *process) waitHealthy(ctx context.Context, name string, hc *http.Client, url string, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		if p.exited() {
			return false, errors.New(name + " exited")
		}
		resp, err := hc.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("%s did not become healthy: %w\n%s", name, err, p.logTail())
	}
	return nil
}

// logTail returns the last lines of the program's log, for error messages.
func (p *process) logTail() string {
	data, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return p.log + ":\n" + strings.Join(lines, "\n")
}
