package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

const (
	plainNS, hookNS = "bench-plain", "bench-hook"
	webhookName     = "cassandra-backup-operator"
	// The plan lists the pods of rack1; pods of rack2 (same name lengths) have no
	// source node and are admitted unchanged.
	plannedRack, unplannedRack = "rack1", "rack2"
)

type e2eOptions struct {
	rate, seconds, rounds int
	profileDir            string
	watchPods, http2      bool
}

// mode is one way of creating pods. A and C send and store the same pod; B and D store
// the same pod (B sends it as the webhook would have mutated it).
type mode struct {
	id, name  string
	namespace string
	rack      string
	premutate bool
}

var modes = []mode{
	{"A", "no webhook, plain pod", plainNS, unplannedRack, false},
	{"B", "no webhook, pod sent already mutated", plainNS, plannedRack, true},
	{"C", "webhook, pod admitted unchanged", hookNS, unplannedRack, false},
	{"D", "webhook, pod mutated", hookNS, plannedRack, false},
}

// result is one mode's run.
type result struct {
	lat      []time.Duration
	mutated  int
	bytes    int // JSON size of a stored pod
	window   time.Duration
	cpu      cpuSample
	handler  []time.Duration
	gcs      uint32
	gcPause  time.Duration
	accepted int64
}

type e2e struct {
	e2eOptions
	ctx     context.Context
	admin   *kubernetes.Clientset // setup and cleanup
	load    *kubernetes.Clientset // the load generator: protobuf, like the StatefulSet controller
	dc      *v1alpha1.CassandraDataCenter
	sent    []*corev1.Pod // mode B's pods: as the webhook mutates them
	pids    pids
	child   *exec.Cmd
	ctl     io.Writer
	stats   *bufio.Scanner
	lastSrv serverStats
}

func throughAPIServer(o e2eOptions) error {
	ctx := context.Background()
	started, load := time.Now().UTC(), loadAverage()
	cp, err := controlplane.Start(ctx, controlplane.Options{})
	if err != nil {
		return err
	}
	defer cp.Stop()
	b := &e2e{e2eOptions: o, ctx: ctx, admin: kubernetes.NewForConfigOrDie(cp.Config())}
	lc := cp.Config()
	lc.ContentType = k8sruntime.ContentTypeProtobuf
	lc.AcceptContentTypes = k8sruntime.ContentTypeProtobuf + "," + k8sruntime.ContentTypeJSON
	b.load = kubernetes.NewForConfigOrDie(lc)
	if err := b.setup(cp); err != nil {
		return err
	}
	defer b.stopChild()

	// Warm up every mode (connections, caches, the API server's and etcd's first
	// allocations), one second each, then clean up.
	for _, m := range modes {
		if _, err := b.run(m, o.rate, ""); err != nil {
			return fmt.Errorf("warm-up %s: %w", m.id, err)
		}
	}
	results := make([][]result, o.rounds)
	for r := range o.rounds {
		results[r] = make([]result, len(modes))
		for k := range modes {
			i := (k + r) % len(modes) // rotate the order, so no mode always runs first
			prof := ""
			if r == 0 && o.profileDir != "" {
				prof = filepath.Join(o.profileDir, "kube-apiserver-"+modes[i].id+".pprof")
			}
			res, err := b.run(modes[i], o.rate*o.seconds, prof)
			if err != nil {
				return fmt.Errorf("round %d, mode %s: %w", r+1, modes[i].id, err)
			}
			results[r][i] = res
		}
	}
	b.report(results)
	fmt.Printf("Run at %s; load average %s at the start, %s at the end.\n\n", started.Format(time.DateTime+" MST"), load, loadAverage())
	return nil
}

// setup creates the namespaces, datacenters, plan and webhook configuration, and starts
// the webhook process.
func (b *e2e) setup(cp *controlplane.ControlPlane) error {
	ctx := b.ctx
	client := versioned.NewForConfigOrDie(cp.Config())
	for _, n := range []string{plainNS, hookNS} {
		if _, err := b.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		dc := datacenter("dc0", n)
		dc.UID = ""
		out, err := client.CassandraoperatorV1alpha1().CassandraDataCenters(n).Create(ctx, dc, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		b.dc = out // the last one: hookNS
	}
	// Pods are deleted after each mode, so names repeat: the plan lists one mode's pods.
	// Tokens are not read at admission; one keeps the plan small.
	_, cm, err := makePlan(b.dc, b.rate*b.seconds, 1)
	if err != nil {
		return err
	}
	if _, err := b.admin.CoreV1().ConfigMaps(hookNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("plan of %d pods: %w", b.rate*b.seconds, err)
	}

	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	url := "https://" + raw.Addr().String() + webhook.DefaultPath
	fail, none, timeout := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, int32(5)
	hook := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhookName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "restore.cassandraoperator.instaclustr.com", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail, TimeoutSeconds: &timeout,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			ObjectSelector:    &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: informers.LabelDatacenter, Operator: metav1.LabelSelectorOpExists}}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": hookNS}},
		}},
	}
	if _, err := b.admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := b.startChild(cp.KubeconfigPath, raw.(*net.TCPListener)); err != nil {
		return err
	}
	raw.Close() // the child holds its own copy
	ch := children()
	b.pids = pids{apiserver: ch["kube-apiserver"], etcd: ch["etcd"], webhook: b.child.Process.Pid}
	if b.pids.apiserver == 0 || b.pids.etcd == 0 {
		return fmt.Errorf("kube-apiserver or etcd not found among the children: %v", ch)
	}

	// Wait until the API server calls the webhook (a created pod comes back mutated).
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := b.admin.CoreV1().Pods(hookNS).Create(ctx, pod(restore.InstaclustrPodName(b.dc, plannedRack, 0), "dc0"), metav1.CreateOptions{})
		if err == nil && len(p.Spec.InitContainers) == 1 {
			break
		}
		if err == nil {
			b.admin.CoreV1().Pods(hookNS).Delete(ctx, p.Name, metav1.DeleteOptions{})
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not call the webhook: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := b.cleanup(); err != nil {
		return err
	}
	// Mode B sends the pods the webhook makes: a dry run through it, server fields cleared.
	for i := range b.rate * b.seconds {
		p, err := b.admin.CoreV1().Pods(hookNS).Create(ctx, pod(restore.InstaclustrPodName(b.dc, plannedRack, i), "dc0"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if len(p.Spec.InitContainers) != 1 {
			return fmt.Errorf("dry run of %s: not mutated", p.Name)
		}
		p.ObjectMeta = metav1.ObjectMeta{Name: p.Name, Labels: p.Labels, Annotations: p.Annotations}
		b.sent = append(b.sent, p)
	}
	return nil
}

// startChild runs this binary as the webhook server on a copy of ln.
func (b *e2e) startChild(kubeconfig string, ln *net.TCPListener) error {
	f, err := ln.File()
	if err != nil {
		return err
	}
	defer f.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"-serve-webhook", "-kubeconfig", kubeconfig, "-namespace", hookNS}
	if b.profileDir != "" {
		args = append(args, "-cpuprofile", filepath.Join(b.profileDir, "webhook.pprof"))
	}
	if b.watchPods {
		args = append(args, "-webhook-watches-pods")
	}
	if b.http2 {
		args = append(args, "-webhook-http2")
	}
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{f} // descriptor listenerFD
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.child, b.ctl = cmd, in
	b.stats = bufio.NewScanner(out)
	b.stats.Buffer(nil, 64<<20)
	if !b.stats.Scan() || b.stats.Text() != "ready" {
		return fmt.Errorf("webhook process did not start: %q %v", b.stats.Text(), b.stats.Err())
	}
	return nil
}

func (b *e2e) stopChild() {
	if b.child == nil {
		return
	}
	b.ctl.(io.Closer).Close()
	done := make(chan struct{})
	go func() { b.child.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		b.child.Process.Kill()
		<-done
	}
}

// serverStats asks the webhook process for its numbers.
func (b *e2e) serverStats() (serverStats, error) {
	var st serverStats
	if _, err := io.WriteString(b.ctl, "stats\n"); err != nil {
		return st, err
	}
	if !b.stats.Scan() {
		return st, fmt.Errorf("webhook process: %v", b.stats.Err())
	}
	return st, json.Unmarshal(b.stats.Bytes(), &st)
}

// run creates n pods of mode m at the fixed rate, then deletes them. With prof set it
// records a CPU profile of kube-apiserver during the run.
func (b *e2e) run(m mode, n int, prof string) (result, error) {
	var res result
	// Everything the load generator sends is built before the clock starts.
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		if m.premutate {
			pods[i] = b.sent[i]
		} else {
			pods[i] = pod(restore.InstaclustrPodName(b.dc, m.rack, i), "dc0")
		}
	}
	before, err := b.serverStats()
	if err != nil {
		return res, err
	}
	var profErr error
	var profDone sync.WaitGroup
	if prof != "" {
		profDone.Go(func() {
			data, err := b.admin.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
				Param("seconds", strconv.Itoa(max(1, n/b.rate))).DoRaw(b.ctx)
			if err == nil {
				err = os.WriteFile(prof, data, 0o644)
			}
			profErr = err
		})
	}

	cpu0 := b.pids.sample()
	interval := time.Second / time.Duration(b.rate)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	start := time.Now()
	for i, p := range pods {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Go(func() {
			t := time.Now()
			out, err := b.load.CoreV1().Pods(m.namespace).Create(b.ctx, p, metav1.CreateOptions{})
			d := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if len(out.Spec.InitContainers) > 0 {
				res.mutated++
			}
			if res.bytes == 0 {
				raw, _ := json.Marshal(out)
				res.bytes = len(raw)
				if prof != "" {
					os.WriteFile(filepath.Join(b.profileDir, "pod-"+m.id+".json"), raw, 0o644)
				}
			}
			res.lat = append(res.lat, d)
		})
	}
	wg.Wait()
	res.window = time.Since(start)
	res.cpu = b.pids.sample().sub(cpu0)
	profDone.Wait()
	after, err := b.serverStats()
	if err != nil {
		return res, err
	}
	res.handler, res.accepted = after.Handler, after.Accepted
	res.gcs, res.gcPause = after.NumGC-before.NumGC, after.GCPause-before.GCPause
	res.cpu.webhook = after.CPU - before.CPU // finer than /proc's ticks
	if len(errs) > 0 {
		return res, fmt.Errorf("%d of %d pod creations failed, first: %w", len(errs), n, errs[0])
	}
	if profErr != nil {
		return res, fmt.Errorf("kube-apiserver profile: %w", profErr)
	}
	return res, b.cleanup()
}

// cleanup deletes the benchmark's pods and waits until they are gone, so every run
// starts from the same store.
func (b *e2e) cleanup() error {
	for _, n := range []string{plainNS, hookNS} {
		zero := int64(0)
		if err := b.admin.CoreV1().Pods(n).DeleteCollection(b.ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		left := 0
		for _, n := range []string{plainNS, hookNS} {
			l, err := b.admin.CoreV1().Pods(n).List(b.ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			left += len(l.Items)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("pods not deleted after 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // let the deletions' work settle
	return nil
}
