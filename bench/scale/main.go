// Command scale backs up and restores one datacenter of -racks × -per-rack fake Cassandra
// nodes on the test pod network (each pod a network namespace of its own with a fake node
// and a real `cassandra-backup-agent serve`), with the real cassandra-backup-operator
// binary against a real kube-apiserver, a file:// bucket, and the pod runner playing the
// kubelet for the restored pods' init containers. It prints a Markdown table: time to
// COMPLETED for the backup and the restore, the operator's peak RSS and CPU, its API
// writes per node, the agents' RSS, the webhook's admissions and the status size per node.
// Run it with bench/scale/run.sh (root: the pod network needs it).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/e2e/guide"
	"github.com/cassbackup/cassandra-backup-operator/test/podnet"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

const (
	namespace  = "cassandra-scale"
	cluster    = "scale-cluster"
	dcName     = "dc1"
	backupName = "scale-backup"
	restoredDC = "scale-restored"
)

type options struct {
	racks, perRack, dataKiB, startParallel int
	timeout                                time.Duration
	dir                                    string
}

func main() {
	var o options
	flag.IntVar(&o.racks, "racks", 3, "racks")
	flag.IntVar(&o.perRack, "per-rack", 20, "pods per rack")
	flag.IntVar(&o.dataKiB, "data-kib", 2048, "user data per node, KiB")
	flag.IntVar(&o.startParallel, "start-parallel", 4, "nodes started at a time")
	flag.DurationVar(&o.timeout, "timeout", 20*time.Minute, "time allowed for the backup and for the restore, each")
	flag.StringVar(&o.dir, "dir", "", "working directory; a temporary one, removed at exit, when empty")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Stdout, o)
	// Every pod's namespace went with its veth pair; the links are named after this process.
	links, _ := filepath.Glob("/sys/class/net/" + podnet.LinkPrefix + strconv.Itoa(os.Getpid()) + "*")
	fmt.Printf("\nleft behind: %d links of this process's pod network\n", len(links))
	if err == nil && len(links) > 0 {
		err = fmt.Errorf("links left behind: %v", links)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/scale FAILED: %v\n", err)
		os.Exit(1)
	}
}

// result is what one run measured.
type result struct {
	nodes                         int
	start, backup, plan, restore  time.Duration
	initDone                      time.Duration // the last init container's exit, from the datacenter's creation
	opCPU                         time.Duration
	opPeakRSS                     int64
	reconcilerWrites              map[string]float64 // by phase
	apiWrites                     map[string]float64 // by phase: every client's
	agentRSS                      []int64
	admissions                    float64
	admissionSeconds              float64
	backupStatus, restoreStatus   int // bytes of the objects' JSON
	planBytes                     int // bytes of the restore plan ConfigMap's JSON
	backupPerNode, restorePerNode int // bytes per status.nodes[] entry
	writesByResource              map[string]float64
	backupPhaseResource           map[string]float64
}

func run(ctx context.Context, out io.Writer, o options) (err error) {
	n := o.racks * o.perRack
	res := result{nodes: n, reconcilerWrites: map[string]float64{}, apiWrites: map[string]float64{}}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "cassandra-backup-scale-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	root, err := controlplane.RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "bin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./cmd/cassandra-backup-agent", "./cmd/cassandra-backup-operator")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, b)
	}
	agentBin, operatorBin := filepath.Join(bin, "cassandra-backup-agent"), filepath.Join(bin, "cassandra-backup-operator")

	network, err := podnet.Open()
	if err != nil {
		return fmt.Errorf("the pod network (needs root): %w", err)
	}
	cleanups = append(cleanups, func() { network.Close() })
	cp, err := controlplane.Start(ctx, controlplane.Options{Dir: filepath.Join(dir, "controlplane"), Address: network.Host.String()})
	if err != nil {
		return err
	}
	cleanups = append(cleanups, cp.Stop)
	env := guide.NewEnv(cp.Config(), cp.KubeconfigPath, namespace, agentBin, filepath.Join(dir, "nodes"), storage.Config{})
	env.Network = network
	port, err := controlplane.FreePort()
	if err != nil {
		return err
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(port)
	env.OperatorArgs = []string{"--metrics-bind-address=" + metricsAddr}
	if _, err := env.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	op, err := env.StartOperatorBinary(ctx, operatorBin, filepath.Join(dir, "operator.log"))
	if err != nil {
		return err
	}
	cleanups = append(cleanups, op.Stop)

	// The source datacenter, started a few nodes at a time.
	t0 := time.Now()
	racks := make([]string, o.racks)
	for r := range racks {
		racks[r] = fmt.Sprintf("rack%d", r+1)
	}
	nodes := make([]*guide.Node, n)
	var (
		mu       sync.Mutex
		startErr []error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, max(1, o.startParallel))
	for i := range n {
		rack, ord := racks[i%o.racks], i/o.racks
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			kib := o.dataKiB
			node, err := env.StartNode(ctx, fmt.Sprintf("cassandra-%s-%s-%d", dcName, rack, ord), cluster, dcName, rack, uint64(1+i), []guide.Table{
				{Keyspace: "ks1", Name: "t1", Size: kib * 1024 * 6 / 10}, {Keyspace: "ks1", Name: "t2", Size: kib * 1024 * 3 / 10},
				{Keyspace: "ks2", Name: "t3", Size: kib*1024/10 + i}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				startErr = append(startErr, err)
				return
			}
			nodes[i] = node
			cleanups = append(cleanups, node.Stop)
		}()
	}
	wg.Wait()
	if err := errors.Join(startErr...); err != nil {
		return err
	}
	res.start = time.Since(t0)
	fmt.Fprintf(out, "%d pods started on %s in %s\n", n, network.Subnet.String(), res.start.Round(time.Second))

	scrape := func() (rec float64, api map[string]float64, adm, admSec float64) {
		return controlplane.ScrapeMetric(metricsAddr, "reconciler_writes_total"), scrapeAPIServer(ctx, env.Kube), apiMetric(ctx, env.Kube, "apiserver_admission_webhook_admission_duration_seconds_count"),
			apiMetric(ctx, env.Kube, "apiserver_admission_webhook_admission_duration_seconds_sum")
	}

	// Backup.
	bucketParent, err := guide.FileBucketParent()
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(bucketParent) })
	if _, err := env.Kube.CoreV1().Secrets(namespace).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cloud-backup-secrets"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	rec0, api0, _, _ := scrape()
	b := &v1alpha1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Name: backupName},
		Spec: v1alpha1.CassandraBackupSpec{CDC: cluster + "-" + dcName, Cluster: cluster, Datacenter: dcName,
			StorageLocation: "file://" + filepath.Join(bucketParent, "bucket"), SnapshotTag: "scale", Secret: "cloud-backup-secrets",
			GlobalRequest: true, CreateMissingBucket: true, Entities: "system_schema,ks1,ks2"},
	}
	backups := env.Client.CassandraoperatorV1alpha1().CassandraBackups(namespace)
	t0 = time.Now()
	if _, err := backups.Create(ctx, b, metav1.CreateOptions{}); err != nil {
		return err
	}
	err = guide.Poll(ctx, "the backup to complete", o.timeout, func() (bool, error) {
		if b, err = backups.Get(ctx, backupName, metav1.GetOptions{}); err != nil {
			return false, err
		}
		if b.Status.State == v1alpha1.BackupFailed {
			return false, guide.Final(fmt.Errorf("backup FAILED: %+v", b.Status.Conditions))
		}
		return b.Status.State == v1alpha1.BackupCompleted, fmt.Errorf("state %q, progress %s", b.Status.State, b.Status.Progress)
	})
	if err != nil {
		return err
	}
	res.backup = time.Since(t0)
	fmt.Fprintf(out, "backup COMPLETED in %s\n", res.backup.Round(100*time.Millisecond))
	res.backupStatus, res.backupPerNode = objectSize(b, len(b.Status.Nodes), b.Status.Nodes)
	rec1, api1, adm1, admSec1 := scrape()
	res.reconcilerWrites["backup"] = rec1 - rec0
	res.apiWrites["backup"] = sum(api1) - sum(api0)
	res.backupPhaseResource = diff(api1, api0)
	res.agentRSS = agentPeakRSS(agentBin)

	// Restore: a new datacenter of the same shape with spec.restore, its pods created
	// through the API server (the webhook injects the restore) and their init containers
	// run by the pod runner, each pod in a namespace of its own.
	size := int32(n)
	dc := &v1alpha1.CassandraDataCenter{
		ObjectMeta: metav1.ObjectMeta{Name: restoredDC},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: cluster + "-clone", Datacenter: dcName, Nodes: &size,
			Restore: &v1alpha1.RestoreSpec{BackupName: backupName}},
	}
	for _, r := range racks {
		dc.Spec.Racks = append(dc.Spec.Racks, v1alpha1.Rack{Name: r})
	}
	dcs := env.Client.CassandraoperatorV1alpha1().CassandraDataCenters(namespace)
	t0 = time.Now()
	if dc, err = dcs.Create(ctx, dc, metav1.CreateOptions{}); err != nil {
		return err
	}
	err = guide.Poll(ctx, "the restore plan", o.timeout, func() (bool, error) {
		if dc, err = dcs.Get(ctx, restoredDC, metav1.GetOptions{}); err != nil || dc.Status.Restore == nil {
			return false, err
		}
		return dc.Status.Restore.State == v1alpha1.RestorePlanned, fmt.Errorf("status.restore.state %s", dc.Status.Restore.State)
	})
	if err != nil {
		return err
	}
	res.plan = time.Since(t0)
	if cm, err := env.Kube.CoreV1().ConfigMaps(namespace).Get(ctx, dc.Status.Restore.Plan, metav1.GetOptions{}); err == nil {
		res.planBytes, _ = objectSize(cm, 0, nil)
	}
	runner := &podrunner.Runner{Kube: env.Kube, Binaries: map[string]string{"cassandra-backup-agent": agentBin},
		Root: filepath.Join(dir, "kubelet"), Env: []string{"AGENT_KUBECONFIG=" + cp.KubeconfigPath}, Network: network}
	cleanups = append(cleanups, runner.Close)
	var (
		runErrs  []error
		initDone time.Duration
	)
	for _, r := range racks {
		for ord := range o.perRack {
			pod := guide.RestoredPod(restore.InstaclustrPodName(dc, r, ord), dc)
			if pod, err = env.Kube.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create restored pod: %w", err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				res, err := runner.RunInitContainers(ctx, pod)
				if err == nil && (len(res) != 1 || res[0].ExitCode != 0) {
					err = fmt.Errorf("init container of %s: %+v", pod.Name, res)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					runErrs = append(runErrs, err)
				}
				initDone = max(initDone, time.Since(t0))
			}()
		}
	}
	err = guide.Poll(ctx, "the restore to complete", o.timeout, func() (bool, error) {
		if dc, err = dcs.Get(ctx, restoredDC, metav1.GetOptions{}); err != nil || dc.Status.Restore == nil {
			return false, err
		}
		mu.Lock()
		failed := errors.Join(runErrs...)
		mu.Unlock()
		if failed != nil {
			return false, guide.Final(failed)
		}
		return guide.RestoreDone(dc, n)
	})
	wg.Wait()
	if err != nil {
		return err
	}
	res.restore, res.initDone = time.Since(t0), initDone
	fmt.Fprintf(out, "restore COMPLETED in %s\n", res.restore.Round(100*time.Millisecond))
	res.restoreStatus, res.restorePerNode = objectSize(dc, len(dc.Status.Restore.Nodes), dc.Status.Restore.Nodes)
	rec2, api2, adm2, admSec2 := scrape()
	res.reconcilerWrites["restore"] = rec2 - rec1
	res.apiWrites["restore"] = sum(api2) - sum(api1)
	res.writesByResource = diff(api2, api1)
	res.admissions, res.admissionSeconds = adm2-adm1, admSec2-admSec1
	res.opCPU, res.opPeakRSS = procUsage(op.Pid)
	report(out, o, res)
	return nil
}

// objectSize returns the bytes of an object's JSON and the mean bytes of one of its n
// status node entries.
func objectSize(obj any, n int, entries any) (int, int) {
	all, _ := json.Marshal(obj)
	e, _ := json.Marshal(entries)
	if n == 0 {
		return len(all), 0
	}
	return len(all), len(e) / n
}

// scrapeAPIServer returns kube-apiserver's write requests in the namespace's resources
// (all clients) by verb and resource.
func scrapeAPIServer(ctx context.Context, kube kubernetes.Interface) map[string]float64 {
	text := apiMetrics(ctx, kube)
	out := map[string]float64{}
	for k, v := range metricValues(text, "apiserver_request_total") {
		verb := label(k, "verb")
		if verb == "POST" || verb == "PUT" || verb == "PATCH" || verb == "DELETE" || verb == "APPLY" {
			out[verb+" "+label(k, "resource")+"/"+label(k, "subresource")] += v
		}
	}
	return out
}

func apiMetric(ctx context.Context, kube kubernetes.Interface, name string) float64 {
	return sum(metricValues(apiMetrics(ctx, kube), name))
}

func apiMetrics(ctx context.Context, kube kubernetes.Interface) string {
	b, _ := kube.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	return string(b)
}

// metricValues returns the samples of one metric from Prometheus text, by label set.
func metricValues(text, name string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[strings.TrimPrefix(line[:i], name)] += v
		}
	}
	return out
}

func label(set, name string) string {
	_, after, ok := strings.Cut(set, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, `"`)
	return v
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

func diff(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// procUsage returns a process's CPU time (user + system) and peak RSS from /proc.
func procUsage(pid int) (time.Duration, int64) {
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	var cpu time.Duration
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			cpu = time.Duration(u+s) * 10 * time.Millisecond // USER_HZ
		}
	}
	return cpu, peakRSS(pid)
}

// peakRSS is VmHWM of a process, bytes.
func peakRSS(pid int) int64 {
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// agentPeakRSS returns the peak RSS of every running `agent serve` process, sorted.
func agentPeakRSS(agentBin string) []int64 {
	var out []int64
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 1 && args[0] == agentBin && args[1] == "serve" {
			out = append(out, peakRSS(pid))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func report(out io.Writer, o options, r result) {
	n := float64(r.nodes)
	fmt.Fprintf(out, "\n%d nodes (%d racks × %d), %d KiB per node, file:// bucket, run at %s UTC\n\n",
		r.nodes, o.racks, o.perRack, o.dataKiB, time.Now().UTC().Format("15:04 on 2006-01-02"))
	fmt.Fprintf(out, "| nodes | pods started s | backup to COMPLETED s | restore plan s | init containers done s | restore to COMPLETED s | operator peak RSS MiB | operator CPU s | operator writes/node backup / restore | all API writes/node backup / restore | agent RSS MiB median / max | webhook admissions | admission ms mean | status bytes/node backup / restore |\n")
	fmt.Fprintf(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|---|\n")
	med, top := int64(0), int64(0)
	if len(r.agentRSS) > 0 {
		med, top = r.agentRSS[len(r.agentRSS)/2], r.agentRSS[len(r.agentRSS)-1]
	}
	admMs := 0.0
	if r.admissions > 0 {
		admMs = r.admissionSeconds / r.admissions * 1000
	}
	fmt.Fprintf(out, "| %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.1f | %.2f / %.2f | %.2f / %.2f | %.0f / %.0f (%d agents) | %.0f | %.1f | %d / %d |\n",
		r.nodes, r.start.Seconds(), r.backup.Seconds(), r.plan.Seconds(), r.initDone.Seconds(), r.restore.Seconds(), mib(r.opPeakRSS), r.opCPU.Seconds(),
		r.reconcilerWrites["backup"]/n, r.reconcilerWrites["restore"]/n, r.apiWrites["backup"]/n, r.apiWrites["restore"]/n,
		mib(med), mib(top), len(r.agentRSS), r.admissions, admMs, r.backupPerNode, r.restorePerNode)
	fmt.Fprintf(out, "\nObject sizes: CassandraBackup %d bytes, CassandraDataCenter %d bytes, restore plan ConfigMap %d bytes (%d per node).\n",
		r.backupStatus, r.restoreStatus, r.planBytes, r.planBytes/r.nodes)
	for _, phase := range []struct {
		name string
		m    map[string]float64
	}{{"backup", r.backupPhaseResource}, {"restore", r.writesByResource}} {
		keys := make([]string, 0, len(phase.m))
		for k := range phase.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(out, "API writes during the %s (all clients):", phase.name)
		for _, k := range keys {
			fmt.Fprintf(out, " %s %.0f;", k, phase.m[k])
		}
		fmt.Fprintln(out)
	}
}
