package reconciler_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// proc is an operator process.
type proc struct {
	id      string
	cmd     *exec.Cmd
	metrics string
	health  string
	log     string
	exited  chan error
}

// startProc runs the operator binary with leader election in namespace ns.
func startProc(t *testing.T, bin, kubeconfig, ns, id string, lease, renew, retry time.Duration) *proc {
	t.Helper()
	p := &proc{id: id, metrics: controlplane.FreeAddr(t), health: controlplane.FreeAddr(t), log: filepath.Join(t.TempDir(), id+".log"), exited: make(chan error, 1)}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin,
		"--kubeconfig", kubeconfig,
		"--namespace", ns,
		"--workers", "2",
		"--leader-elect",
		"--leader-elect-namespace", ns,
		"--leader-elect-identity", id,
		"--leader-elect-lease-duration", lease.String(),
		"--leader-elect-renew-deadline", renew.String(),
		"--leader-elect-retry-period", retry.String(),
		"--metrics-bind-address", p.metrics,
		"--health-probe-bind-address", p.health,
		"--v", "2",
	)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("log of operator %s:\n%s", id, tail(string(b), 60))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// scrape returns the sum of a metric's samples from the process's /metrics, or -1 when
// the endpoint cannot be read.
func (p *proc) scrape(name string) float64 {
	return controlplane.ScrapeMetric(p.metrics, name)
}

func (p *proc) get(path string) int {
	resp, err := http.Get("http://" + p.health + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// handledBy waits until the backups are Ready and returns who handled each.
func handledBy(t *testing.T, cp *controlplane.ControlPlane, ns string, names ...string) map[string]string {
	t.Helper()
	cs := client(t, cp)
	out := map[string]string{}
	for _, name := range names {
		b := waitSynced(t, cs, ns, name, metav1.ConditionTrue)
		eventually(t, name+" Ready", func(ctx context.Context) (bool, error) {
			var err error
			b, err = cs.CassandraoperatorV1alpha1().CassandraBackups(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			r := condition(b, reconciler.TypeReady)
			return r != nil && r.Status == metav1.ConditionTrue, nil
		})
		out[name] = strings.TrimPrefix(condition(b, reconciler.TypeReady).Message, "handled by ")
	}
	return out
}

// TestLeaderElection runs two operator processes: only the leader reconciles; when the
// leader is killed the other takes over within the lease duration; SIGTERM drains,
// releases the Lease and exits 0.
func TestLeaderElection(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	cs := client(t, cp)
	kube := kubernetes.NewForConfigOrDie(cp.Config())
	bin := controlplane.GoBuild(t, "./test/reconciler/testoperator")
	const lease, renew, retry = 4 * time.Second, 3 * time.Second, 500 * time.Millisecond
	procs := map[string]*proc{
		"op-a": startProc(t, bin, cp.KubeconfigPath, ns, "op-a", lease, renew, retry),
		"op-b": startProc(t, bin, cp.KubeconfigPath, ns, "op-b", lease, renew, retry),
	}
	holder := func(ctx context.Context) (string, error) {
		l, err := kube.CoordinationV1().Leases(ns).Get(ctx, "cassandra-backup-operator", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil || l.Spec.HolderIdentity == nil {
			return "", err
		}
		return *l.Spec.HolderIdentity, nil
	}
	var leaderID string
	eventually(t, "a leader", func(ctx context.Context) (bool, error) {
		id, err := holder(ctx)
		leaderID = id
		return id != "" && procs[id] != nil && procs[id].scrape("operator_leader") == 1, err
	})
	leader := procs[leaderID]
	var follower *proc
	for id, p := range procs {
		if id != leaderID {
			follower = p
		}
	}
	for _, p := range procs {
		eventually(t, p.id+" /readyz and /healthz", func(context.Context) (bool, error) {
			return p.get("/readyz") == http.StatusOK && p.get("/healthz") == http.StatusOK, nil
		})
	}

	ctx := context.Background()
	api := cs.CassandraoperatorV1alpha1().CassandraBackups(ns)
	var first, second []string
	for i := range 5 {
		first = append(first, fmt.Sprintf("first-%d", i))
		second = append(second, fmt.Sprintf("second-%d", i))
	}
	for _, name := range first {
		if _, err := api.Create(ctx, newBackup(ns, name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, by := range handledBy(t, cp, ns, first...) {
		if by != leader.id {
			t.Errorf("%s handled by %s, not by the leader %s", name, by, leader.id)
		}
	}
	if n := follower.scrape("reconciler_handler_calls_total"); n != 0 {
		t.Errorf("the follower called handlers %v times", n)
	}
	if n := follower.scrape("operator_leader"); n != 0 {
		t.Errorf("the follower reports operator_leader %v", n)
	}
	if n := leader.scrape("reconciler_handler_calls_total"); n != float64(len(first)) {
		t.Errorf("the leader called handlers %v times for %d backups", n, len(first))
	}
	if n := leader.scrape("reconciler_handler_duration_seconds_count"); n != float64(len(first)) {
		t.Errorf("handler durations observed %v times for %d calls", n, len(first))
	}
	if n := leader.scrape("workqueue_adds_total"); n < float64(len(first)) {
		t.Errorf("workqueue metrics missing: workqueue_adds_total = %v", n)
	}

	// Kill the leader without letting it release the Lease.
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-leader.exited
	eventually(t, "the follower takes the Lease", func(ctx context.Context) (bool, error) {
		id, err := holder(ctx)
		return id == follower.id, err
	})
	takeover := time.Since(killed)
	// The Lease expires at most lease after its last renewal, which preceded the kill; the
	// follower tries every retry period (with up to 20% jitter); its API round trips on a
	// loaded 2-core machine and our polling get 1s.
	if limit := lease + retry*12/10 + time.Second; takeover > limit {
		t.Errorf("takeover took %v, more than %v", takeover, limit)
	}
	t.Logf("takeover after the leader was killed: %v (lease %v)", takeover.Round(10*time.Millisecond), lease)
	for _, name := range second {
		if _, err := api.Create(ctx, newBackup(ns, name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, by := range handledBy(t, cp, ns, second...) {
		if by != follower.id {
			t.Errorf("%s handled by %s after the takeover, not by %s", name, by, follower.id)
		}
	}
	for name, by := range handledBy(t, cp, ns, first...) {
		if by != leader.id {
			t.Errorf("%s handled again, by %s", name, by)
		}
	}
	if n := follower.scrape("reconciler_handler_calls_total"); n != float64(len(second)) {
		t.Errorf("the new leader called handlers %v times for %d new backups", n, len(second))
	}

	// SIGTERM: drain, release the Lease, exit 0.
	if err := follower.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-follower.exited:
		if err != nil {
			t.Errorf("operator exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("operator still running 30s after SIGTERM")
	}
	if id, err := holder(ctx); err != nil || id != "" {
		t.Errorf("Lease holder after a graceful exit = %q (%v), want released", id, err)
	}
}
