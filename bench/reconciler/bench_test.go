// Package reconciler_test benchmarks the reconciler layer in the operator process: 1,000
// CassandraBackups handled by a trivial create handler, from creation to steady state.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/reconciler/
package reconciler_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	v1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

const objects = 1000

// qps and burst are the operator's client rate limits; BENCH_QPS overrides the defaults.
var qps, burst = "50", "100"

func init() {
	if v := os.Getenv("BENCH_QPS"); v != "" {
		n, _ := strconv.Atoi(v)
		qps, burst = v, strconv.Itoa(2*n)
	}
}

// operatorProc is the test operator binary running.
type operatorProc struct {
	cmd     *exec.Cmd
	metrics string
	health  string
	exited  chan error
}

func startOperator(b *testing.B, bin, kubeconfig, ns string) *operatorProc {
	b.Helper()
	p := &operatorProc{metrics: controlplane.FreeAddr(b), health: controlplane.FreeAddr(b), exited: make(chan error, 1)}
	logf, err := os.Create(filepath.Join(b.TempDir(), "operator.log"))
	if err != nil {
		b.Fatal(err)
	}
	p.cmd = exec.Command(bin, "--kubeconfig", kubeconfig, "--namespace", ns, "--workers", "4",
		"--resync", "0", "--kube-api-qps", qps, "--kube-api-burst", burst, "--metrics-bind-address", p.metrics, "--health-probe-bind-address", p.health)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait(); logf.Close() }()
	b.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	poll(b, "operator ready", func() bool {
		resp, err := http.Get("http://" + p.health + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// stop sends SIGTERM and waits for the exit.
func (p *operatorProc) stop(b *testing.B) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		if err != nil {
			b.Errorf("operator exit: %v", err)
		}
	case <-time.After(60 * time.Second):
		b.Error("operator did not exit within 60s of SIGTERM")
	}
}

// scrape sums the samples of a metric on the operator's /metrics.
func (p *operatorProc) scrape(name string) float64 {
	return controlplane.ScrapeMetric(p.metrics, name)
}

// memory returns the process's peak and current resident set size in bytes.
func (p *operatorProc) memory(b *testing.B) (peak, now int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmHWM:" || f[0] == "VmRSS:") {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] == "VmHWM:" {
				peak = kb * 1024
			} else {
				now = kb * 1024
			}
		}
	}
	return peak, now
}

func poll(b *testing.B, what string, cond func() bool) {
	b.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 10*time.Minute, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		b.Fatalf("%s: %v", what, err)
	}
}

// handled counts the backups that are Ready and Synced at their generation.
func handled(ctx context.Context, cs versioned.Interface, ns string) int {
	list, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0
	}
	n := 0
	for _, b := range list.Items {
		r := meta.FindStatusCondition(b.Status.Conditions, reconciler.TypeReady)
		s := meta.FindStatusCondition(b.Status.Conditions, reconciler.TypeSynced)
		if r != nil && r.Status == metav1.ConditionTrue && s != nil && s.Status == metav1.ConditionTrue && s.ObservedGeneration == b.Generation {
			n++
		}
	}
	return n
}

// BenchmarkSteadyState creates 1,000 CassandraBackups under a running operator with a
// trivial create handler, and reports the wall time until all are handled, the API writes
// per object, and the operator's peak RSS; then restarts the operator over the 1,000
// handled objects and reports the time to look at all of them again and the writes
// that made (zero expected).
func BenchmarkSteadyState(b *testing.B) {
	cp := controlplane.Shared(b)
	bin := controlplane.GoBuild(b, "./test/reconciler/testoperator")
	cfg := cp.Config()
	cfg.QPS, cfg.Burst = 500, 1000
	cs := versioned.NewForConfigOrDie(cfg)
	kube := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for range b.N {
		ns := cp.Namespace(b)
		op := startOperator(b, bin, cp.KubeconfigPath, ns)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, objects)
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < objects; i += 8 {
					obj := &v1.CassandraBackup{
						ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("backup-%04d", i)},
						Spec: v1.CassandraBackupSpec{CDC: "dc", Cluster: "c", Datacenter: "dc1",
							StorageLocation: "s3://bucket", SnapshotTag: fmt.Sprintf("t%d", i)},
					}
					if _, err := cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		created := time.Since(start)
		poll(b, "all backups handled", func() bool { return handled(ctx, cs, ns) == objects })
		wall := time.Since(start)
		// Let the watch echoes of the last writes go through.
		writes, stable := -1.0, 0
		poll(b, "writes settle (unchanged over 5 polls)", func() bool {
			w := op.scrape("reconciler_writes_total")
			if w == writes {
				stable++
			} else {
				writes, stable = w, 0
			}
			return stable >= 5
		})
		events, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		peak, rss := op.memory(b)
		op.stop(b)

		// A restart over 1,000 handled objects: every object is looked at, nothing written.
		restart := time.Now()
		op2 := startOperator(b, bin, cp.KubeconfigPath, ns)
		poll(b, "restarted operator looked at every object", func() bool {
			return op2.scrape("reconciler_passes_total") >= objects
		})
		restartWall := time.Since(restart)
		restartWrites := op2.scrape("reconciler_writes_total")
		peak2, _ := op2.memory(b)
		op2.stop(b)

		b.ReportMetric(wall.Seconds(), "s-to-steady")
		b.ReportMetric(created.Seconds(), "s-creating")
		b.ReportMetric(writes/objects, "writes/obj")
		b.ReportMetric(float64(len(events.Items))/objects, "events/obj")
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(rss)/(1<<20), "RSS-MiB")
		b.ReportMetric(restartWall.Seconds(), "s-restart-to-steady")
		b.ReportMetric(restartWrites, "restart-writes")
		b.ReportMetric(float64(peak2)/(1<<20), "restart-peak-RSS-MiB")
	}
}
