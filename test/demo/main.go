// Command demo runs the user guide's backup and restore on this machine, with no cluster:
// a local control plane (etcd + kube-apiserver), the operator's controllers and webhook,
// a simulated 3-node datacenter (fake Cassandra nodes with the real agent binary as their
// sidecars, their pods registered in the API server), the guide's Secret and
// CassandraBackup against a file:// bucket, then a second datacenter under another
// cluster name with spec.restore, whose pods the webhook mutates and the pod runner
// restores. It verifies the restored data byte for byte and the tokens, and exits
// non-zero when they are wrong. Run it with `make demo`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/e2e/guide"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

func main() {
	var opts Options
	podnet.DefaultWhenRoot(io.Discard) // without root, Run says in one line that pods share 127.0.0.1
	flag.StringVar(&opts.Dir, "dir", "", "working directory (control plane, bucket, node data, logs); a temporary one, removed at exit, when empty")
	flag.DurationVar(&opts.Linger, "linger", 0, "keep everything running this long after the verification, to look around with kubectl (Ctrl-C ends it)")
	flag.BoolVar(&opts.InProcess, "in-process", false, "run the operator's controllers and webhook inside this program instead of the built cassandra-backup-operator binary")
	flag.IntVar(&opts.DataKiB, "data-kib", 2048, "user data per node, KiB")
	flag.IntVar(&opts.BandwidthKiB, "bandwidth-kib", 256, "each node's upload (spec.bandwidth) and download (the restore's --bandwidth) cap in KiB/s, so the tables show a rate and an ETA; 0: no cap")
	flag.BoolVar(&opts.PodNetwork, "pod-network", podnet.Enabled(), "run every pod in a network namespace of its own, with its own IP (needs root; falls back to 127.0.0.1 without it); default: as root unless "+podnet.EnvVar+"=0")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Stdout, opts); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
}

// Options configure Run.
type Options struct {
	// Dir is the working directory; a temporary one, removed at the end, when empty.
	Dir string
	// Linger keeps everything running this long after verification.
	Linger time.Duration
	// DataKiB is the user data per node.
	DataKiB int
	// BandwidthKiB caps each node's upload and download, KiB/s, so that progress shows
	// a rate and an ETA; no cap when 0.
	BandwidthKiB int
	// InProcess runs the controllers and webhook in this process instead of the binary.
	InProcess bool
	// PodNetwork runs every pod in a network namespace of its own (see podnet); where
	// that is not permitted, the demo says so in one line and runs on 127.0.0.1.
	PodNetwork bool
}

const (
	namespace    = "cassandra-demo"
	cluster      = "test-cluster"
	dcName       = "dc1"
	backupName   = "test-cassandra-backup"
	restoredDC   = "test-dc-cassandra-clone"
	cloneCluster = "test-cluster-clone"
)

var racks = []string{"west1-a", "west1-b", "west1-c"}

// Run runs the demo, printing what happens to out. It returns an error when anything
// fails, including the verification of the restored data.
func Run(ctx context.Context, out io.Writer, opts Options) (err error) {
	start := time.Now()
	if opts.DataKiB <= 0 {
		opts.DataKiB = 2048
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "cassandra-backup-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var cleanups []func()
	defer func() {
		fmt.Fprintln(out, "\n== cleaning up")
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	// The operator's and agents' logs go to a file, not the terminal.
	logPath := filepath.Join(dir, "operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { logFile.Close() })
	klog.LogToStderr(false)
	klog.SetOutput(logFile)
	ctx = klog.NewContext(ctx, textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(logFile))))

	step(out, "building cassandra-backup-agent and cassandra-backup-operator")
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	agentBin := filepath.Join(dir, "bin", "cassandra-backup-agent")
	operatorBin := filepath.Join(dir, "bin", "cassandra-backup-operator")
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "bin")+"/", "./cmd/cassandra-backup-agent", "./cmd/cassandra-backup-operator")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/...: %w\n%s", err, b)
	}

	network, err := openNetwork(out, opts.PodNetwork)
	if err != nil {
		return err
	}
	host := "127.0.0.1"
	if network != nil {
		cleanups = append(cleanups, func() { network.Close() })
		host = network.Host.String()
	}

	step(out, "starting a local control plane (etcd + kube-apiserver on %s; built into ~/.cache on first use)", host)
	cp, err := controlplane.Start(ctx, controlplane.Options{Dir: filepath.Join(dir, "controlplane"), Address: host})
	if err != nil {
		return err
	}
	cleanups = append(cleanups, cp.Stop)
	fmt.Fprintf(out, "   kubeconfig: %s\n   watch with: kubectl --kubeconfig %s -n %s get cassandrabackups,cassandradatacenters,pods\n   logs: %s\n",
		cp.KubeconfigPath, cp.KubeconfigPath, namespace, logPath)

	env := guide.NewEnv(cp.Config(), cp.KubeconfigPath, namespace, agentBin, filepath.Join(dir, "nodes"), storage.Config{})
	env.Network = network
	if opts.BandwidthKiB > 0 {
		// The restore init containers' download cap, as an operator would set it.
		env.OperatorArgs = append(env.OperatorArgs, fmt.Sprintf("--agent-restore-arg=--bandwidth=%dKBPS", opts.BandwidthKiB))
	}
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}

	var op *guide.Operator
	if opts.InProcess {
		step(out, "starting the operator: backup and restore controllers, admission webhook (in-process)")
		op, err = env.StartOperator(ctx)
	} else {
		step(out, "starting %s (backup and restore controllers, admission webhook on 127.0.0.1)", operatorBin)
		op, err = env.StartOperatorBinary(ctx, operatorBin, filepath.Join(dir, "cassandra-backup-operator.log"))
	}
	if err != nil {
		return err
	}
	cleanups = append(cleanups, op.Stop)
	fmt.Fprintf(out, "   MutatingWebhookConfiguration %s calls https://127.0.0.1 with the operator's own CA\n", op.WebhookConfiguration)

	step(out, "starting datacenter %s of cluster %s: 3 fake Cassandra nodes over 3 racks, each with its agent", dcName, cluster)
	var nodes []*guide.Node
	for i, rack := range racks {
		name := "cassandra-test-dc-cassandra-" + rack + "-0"
		kib := opts.DataKiB
		n, err := env.StartNode(ctx, name, cluster, dcName, rack, uint64(1+i), []guide.Table{
			{Keyspace: "ks1", Name: "t1", Size: kib * 1024 * 6 / 10}, {Keyspace: "ks1", Name: "t2", Size: kib * 1024 * 3 / 10},
			{Keyspace: "ks2", Name: "t3", Size: kib*1024/10 + i}})
		if err != nil {
			return err
		}
		cleanups = append(cleanups, n.Stop)
		nodes = append(nodes, n)
		fmt.Fprintf(out, "   pod %-40s IP %-12s rack %s  host id %s  agent %s\n", name, n.IP, rack, n.Fake.HostID(), n.AgentURL)
	}

	bucketParent, err := guide.FileBucketParent()
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(bucketParent) })
	bucket := "file://" + filepath.Join(bucketParent, "cassandra-bucket")
	step(out, "applying the guide's Secret and CassandraBackup (storageLocation %s)", bucket)
	if err := applySecret(ctx, env, filepath.Join(root, "manifests", "samples", "cloud-backup-secrets.yaml")); err != nil {
		return err
	}
	b := &v1alpha1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Name: backupName, Labels: map[string]string{"app": "cassandra"}},
		Spec: v1alpha1.CassandraBackupSpec{CDC: "test-cluster-dc1-cassandra", Cluster: cluster, Datacenter: dcName,
			StorageLocation: bucket, SnapshotTag: "mySnapshotTag", Secret: "cloud-backup-secrets", GlobalRequest: true,
			CreateMissingBucket: true, Entities: "system_schema,ks1,ks2"},
	}
	if opts.BandwidthKiB > 0 {
		q := resource.MustParse(fmt.Sprintf("%dKi", opts.BandwidthKiB))
		b.Spec.Bandwidth = &q
		fmt.Fprintf(out, "   with spec.bandwidth: %s per node, so that the progress shows a rate and an ETA\n", q.String())
	}
	if _, err := env.Client.CassandraoperatorV1alpha1().CassandraBackups(namespace).Create(ctx, b, metav1.CreateOptions{}); err != nil {
		return err
	}

	step(out, "backup progress (kubectl get cassandrabackups; per node as in kubectl describe)")
	last := ""
	err = guide.Poll(ctx, "the backup to complete", 5*time.Minute, func() (bool, error) {
		b, err := env.Client.CassandraoperatorV1alpha1().CassandraBackups(namespace).Get(ctx, backupName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		table := backupTable(b)
		if table != last {
			fmt.Fprint(out, table)
			last = table
		}
		if b.Status.State == v1alpha1.BackupFailed {
			return false, guide.Final(fmt.Errorf("backup FAILED: %s", readyMessage(b.Status.Conditions)))
		}
		return b.Status.State == v1alpha1.BackupCompleted, fmt.Errorf("state %q, Ready: %s", b.Status.State, readyMessage(b.Status.Conditions))
	})
	if err != nil {
		return err
	}

	step(out, "creating datacenter %s of cluster %s with spec.restore.backupName: %s", restoredDC, cloneCluster, backupName)
	three := int32(3)
	dc := &v1alpha1.CassandraDataCenter{
		ObjectMeta: metav1.ObjectMeta{Name: restoredDC, Labels: map[string]string{"app": "cassandra"}},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: cloneCluster, Datacenter: dcName, Nodes: &three,
			Racks: []v1alpha1.Rack{{Name: racks[0]}, {Name: racks[1]}, {Name: racks[2]}}, Restore: &v1alpha1.RestoreSpec{BackupName: backupName}},
	}
	dcs := env.Client.CassandraoperatorV1alpha1().CassandraDataCenters(namespace)
	if dc, err = dcs.Create(ctx, dc, metav1.CreateOptions{}); err != nil {
		return err
	}
	err = guide.Poll(ctx, "the restore plan", 2*time.Minute, func() (bool, error) {
		dc, err = dcs.Get(ctx, restoredDC, metav1.GetOptions{})
		if err != nil || dc.Status.Restore == nil {
			return false, err
		}
		return dc.Status.Restore.State == v1alpha1.RestorePlanned, fmt.Errorf("status.restore.state %s", dc.Status.Restore.State)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   plan ConfigMap %s: pods paired with backed-up nodes by rack, then ordinal\n", dc.Status.Restore.Plan)

	step(out, "creating the new datacenter's pods through the API server (the webhook injects the restore)")
	runner := &podrunner.Runner{Kube: env.Kube, Binaries: map[string]string{"cassandra-backup-agent": agentBin},
		Root: filepath.Join(dir, "kubelet"), Env: []string{"AGENT_KUBECONFIG=" + cp.KubeconfigPath}, Network: network}
	cleanups = append(cleanups, runner.Close)
	pods := make([]*corev1.Pod, len(nodes))
	for i, src := range nodes {
		name := restore.InstaclustrPodName(dc, src.Rack, 0)
		pod := guide.RestoredPod(name, dc)
		err := guide.Poll(ctx, "pod "+name+" to be admitted", 2*time.Minute, func() (bool, error) {
			created, err := env.Kube.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
			if err == nil {
				pod = created
			}
			return err == nil, err
		})
		if err != nil {
			return err
		}
		if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Name != webhook.InitContainerName {
			return fmt.Errorf("pod %s was admitted without the restore init container", name)
		}
		pods[i] = pod
		fmt.Fprintf(out, "   pod %-45s init container %q restores %s\n", name, pod.Spec.InitContainers[0].Name, pod.Annotations[plan.AnnotationSourceNode])
	}

	step(out, "running the init containers (the pod runner plays the kubelet); restore progress (status.restore)")
	var (
		mu      sync.Mutex
		runErrs []error
	)
	for _, pod := range pods {
		go func() {
			res, err := runner.RunInitContainers(ctx, pod)
			if err == nil && (len(res) != 1 || res[0].ExitCode != 0) {
				err = fmt.Errorf("init container of %s: %+v", pod.Name, res)
			}
			if err != nil {
				mu.Lock()
				runErrs = append(runErrs, err)
				mu.Unlock()
			}
		}()
	}
	last = ""
	err = guide.Poll(ctx, "the restore to complete", 2*time.Minute, func() (bool, error) {
		dc, err = dcs.Get(ctx, restoredDC, metav1.GetOptions{})
		if err != nil || dc.Status.Restore == nil {
			return false, err
		}
		table := restoreTable(dc)
		if table != last {
			fmt.Fprint(out, table)
			last = table
		}
		mu.Lock()
		failed := errors.Join(runErrs...)
		mu.Unlock()
		if failed != nil {
			return false, guide.Final(failed)
		}
		return guide.RestoreDone(dc, len(pods))
	})
	if err != nil {
		return err
	}

	step(out, "verifying the restored data byte for byte and the tokens")
	var failures []error
	for i, pod := range pods {
		src := nodes[i]
		vol := filepath.Join(runner.Root, namespace, pod.Name, "volumes", "data-volume")
		want, err := guide.Files(src.Fake.DataDirs()[0], guide.Restored)
		if err != nil {
			return err
		}
		got, err := guide.Files(filepath.Join(vol, "data"), guide.All)
		if err != nil {
			return err
		}
		n, cmpErr := guide.CompareFiles(want, got)
		tokens := src.Fake.Tokens()
		frag, fragErr := os.ReadFile(filepath.Join(vol, "restore-tokens.yaml"))
		tokensOK := fragErr == nil && string(frag) == agent.TokensYAML(tokens)
		cass, _ := podrunner.Container(pod, "cassandra")
		vars, _, envErr := runner.ResolveEnv(ctx, pod, cass)
		jvmOK := envErr == nil && vars["JVM_EXTRA_OPTS"] == guide.TokensJVMOptions(tokens)
		ip := "127.0.0.1"
		if cur, err := env.Kube.CoreV1().Pods(namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err == nil && cur.Status.PodIP != "" {
			ip = cur.Status.PodIP
		}
		verdict := "OK"
		if cmpErr != nil || !tokensOK || !jvmOK {
			verdict = "FAILED"
			failures = append(failures, fmt.Errorf("pod %s: data: %v; tokens fragment ok: %v (%v); JVM options ok: %v (%v)", pod.Name, cmpErr, tokensOK, fragErr, jvmOK, envErr))
		}
		fmt.Fprintf(out, "   %-45s IP %-12s <- %-38s %3d files, %8d bytes identical: %-5v  %d tokens in initial_token and JVM options: %v  %s\n",
			pod.Name, ip, src.Name, len(got), n, cmpErr == nil, len(tokens), tokensOK && jvmOK, verdict)
	}
	if err := errors.Join(failures...); err != nil {
		return fmt.Errorf("verification: %w", err)
	}
	fmt.Fprintf(out, "\nVERIFIED: cluster %s restored into cluster %s, byte for byte, with its tokens (%s)\n", cluster, cloneCluster, time.Since(start).Round(time.Second))

	if opts.Linger > 0 {
		fmt.Fprintf(out, "\nstill running for %s (Ctrl-C ends it): kubectl --kubeconfig %s -n %s describe cassandrabackups\n", opts.Linger, cp.KubeconfigPath, namespace)
		select {
		case <-ctx.Done():
		case <-time.After(opts.Linger):
		}
	}
	return nil
}

// openNetwork opens the pod network when asked for. Where creating namespaces is not
// permitted it says so in one line and returns nil: the pods then share 127.0.0.1.
func openNetwork(out io.Writer, asked bool) (*podnet.Network, error) {
	if !asked {
		fmt.Fprintf(out, "\n== pods share 127.0.0.1 (--pod-network or %s=1 gives each its own network namespace and IP)\n", podnet.EnvVar)
		return nil, nil
	}
	n, err := podnet.Open()
	if errors.Is(err, podnet.ErrNotPermitted) {
		fmt.Fprintf(out, "\n== pod network not permitted here (it needs root), pods share 127.0.0.1: %v\n", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "\n== pod network %s: each pod a network namespace with its own IP on bridge %s; the host side, where kube-apiserver listens, is %s\n",
		n.Subnet.String(), n.Bridge, n.Host)
	return n, nil
}

func step(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "\n== "+format+"\n", args...)
}

// applySecret creates the guide's Secret from the sample file, unchanged: a file://
// location reads none of its keys. Its values are never printed.
func applySecret(ctx context.Context, env *guide.Env, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var s corev1.Secret
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	_, err = env.Kube.CoreV1().Secrets(namespace).Create(ctx, &s, metav1.CreateOptions{})
	return err
}

// backupTable renders a backup the way kubectl get and describe show it: human sizes,
// the rate over the last 30 s and the ETA, all from status.
func backupTable(b *v1alpha1.CassandraBackup) string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 4, 3, ' ', 0)
	st := &b.Status
	fmt.Fprintf(w, "   NAME\tSTATUS\tPROGRESS\tSIZE\tRATE\tETA\n")
	fmt.Fprintf(w, "   %s\t%s\t%s\t%s\t%s\t%s\n", b.Name, orDash(string(st.State)), orDash(st.Progress), orDash(st.Size), orDash(st.Rate), orDash(st.ETA))
	fmt.Fprintf(w, "     NODE\tSTATE\tPROGRESS\tSIZE\tRATE\tETA\n")
	for _, n := range st.Nodes {
		r := progress.FromStatus(n.BytesUploaded, n.BytesTotal, n.TransferRate)
		fmt.Fprintf(w, "     %s\t%s\t%s\t%s\t%s\t%s\n", n.Node, orDash(string(n.State)), orDash(n.Progress), orDash(r.SizeString()), orDash(r.RateString()), orDash(n.ETA))
	}
	w.Flush()
	return sb.String()
}

// restoreTable renders status.restore of a datacenter, with each pod's download read
// from its init container.
func restoreTable(dc *v1alpha1.CassandraDataCenter) string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 4, 3, ' ', 0)
	r := dc.Status.Restore
	fmt.Fprintf(w, "   DATACENTER\tRESTORE\tBACKUP\tRESTORED\tRATE\tETA\n")
	fmt.Fprintf(w, "   %s\t%s\t%s\t%s\t%s\t%s\n", dc.Name, orDash(string(r.State)), r.BackupName, orDash(r.Size), orDash(r.Rate), orDash(r.ETA))
	fmt.Fprintf(w, "     POD\tSOURCE NODE\tSTATE\tRESTORED\tRATE\tETA\tMESSAGE\n")
	for _, n := range r.Nodes {
		p := progress.FromStatus(n.BytesDone, n.BytesTotal, n.TransferRate)
		fmt.Fprintf(w, "     %s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Pod, n.SourceNode, orDash(string(n.State)), orDash(p.SizeString()), orDash(p.RateString()), orDash(n.ETA), n.Message)
	}
	w.Flush()
	return sb.String()
}

// readyMessage is the message of the Ready condition.
func readyMessage(conds []metav1.Condition) string {
	for _, c := range conds {
		if c.Type == reconciler.TypeReady {
			return c.Reason + ": " + c.Message
		}
	}
	return "no Ready condition"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
