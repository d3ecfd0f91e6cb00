// Command webhook benchmarks the restore webhook: the admission handler in process
// (AdmissionReview JSON in, JSON patch out, lookups in informer caches) and pod creation
// through a real kube-apiserver at a fixed rate, with and without the webhook in the path.
// It prints Markdown tables. Run it through run.sh.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

// threadCPU is the CPU time of the calling OS thread (user and system), which a thread
// waiting for a core does not accumulate: it separates the handler's cost from the
// machine's contention.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// timings records how long a handler takes.
type timings struct {
	mu sync.Mutex
	d  []time.Duration
}

func (t *timings) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		d := time.Since(start)
		t.mu.Lock()
		t.d = append(t.d, d)
		t.mu.Unlock()
	})
}

func (t *timings) take() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]time.Duration(nil), t.d...)
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

// Accept counts and accepts a connection.
func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

func main() {
	iterations := flag.Int("iterations", 20000, "in-process admissions per case")
	planPods := flag.Int("plan-pods", 100, "pods in the in-process plan")
	tokens := flag.Int("tokens", 16, "tokens per node")
	rate := flag.Int("rate", 100, "pods created per second through the API server")
	seconds := flag.Int("seconds", 10, "seconds of pod creation per round")
	rounds := flag.Int("rounds", 2, "rounds of each mode, interleaved")
	skipE2E := flag.Bool("skip-apiserver", false, "only the in-process benchmark")
	flag.Parse()
	if err := inProcess(*iterations, *planPods, *tokens); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if *skipE2E {
		return
	}
	if err := throughAPIServer(*rate, *seconds, *rounds, *tokens); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const ns = "bench"

func datacenter(name, namespace string) *v1alpha1.CassandraDataCenter {
	n := int32(1000)
	return &v1alpha1.CassandraDataCenter{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, UID: types.UID("uid-" + name)},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: "clone", Datacenter: name, Nodes: &n, Racks: []v1alpha1.Rack{{Name: "rack1"}},
			Restore: &v1alpha1.RestoreSpec{BackupName: "b1"}},
	}
}

func plan(dc *v1alpha1.CassandraDataCenter, pods, tokens int) (*corev1.ConfigMap, error) {
	p := &restore.Plan{Restore: *dc.Spec.Restore, Backup: "b1", StorageLocation: "s3://cassandra-bucket", SnapshotTag: "snap",
		SourceCluster: "test-cluster", SourceDatacenter: "dc1", Secret: "cloud-backup-secrets", Pods: map[string]restore.PodPlan{}}
	for i := range pods {
		var toks []string
		for j := range tokens {
			toks = append(toks, fmt.Sprint(int64(i*tokens+j)*1_000_000_007-4_611_686_018_427_387_904))
		}
		hostID := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		p.Pods[restore.InstaclustrPodName(dc, "rack1", i)] = restore.PodPlan{SourceNode: fmt.Sprintf("cassandra-src-rack1-%d", i), Rack: "rack1",
			HostID: hostID, RestoreKey: "s3://cassandra-bucket|test-cluster/dc1/" + hostID + "/manifests/snap-x-1.json", Tokens: toks}
	}
	return p.ConfigMap(dc)
}

func pod(name, dc string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{webhook.DefaultDatacenterLabel: dc, webhook.DefaultClusterLabel: "clone"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "cassandra", Image: "cassandra:4.1", Env: []corev1.EnvVar{{Name: "MAX_HEAP_SIZE", Value: "8G"}},
					VolumeMounts: []corev1.VolumeMount{{Name: "data-volume", MountPath: "/var/lib/cassandra"}}},
				{Name: "agent", Image: "cassandra-backup-agent", Args: []string{"serve"}},
			},
			Volumes: []corev1.Volume{{Name: "data-volume", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

func reviewBody(p *corev1.Pod) []byte {
	raw, _ := json.Marshal(p)
	b, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Operation: admissionv1.Create, Namespace: ns, Name: p.Name, Object: k8sruntime.RawExtension{Raw: raw}},
	})
	return b
}

type stats struct {
	n                   int
	p50, p99, max, mean time.Duration
}

func summarize(d []time.Duration) stats {
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return stats{n: len(d), p50: at(0.50), p99: at(0.99), max: d[len(d)-1], mean: sum / time.Duration(len(d))}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

func inProcess(iterations, planPods, tokens int) error {
	dcIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	cmIdx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	// 50 datacenters in the namespace, one of them restoring with a plan of planPods pods.
	var restoring *v1alpha1.CassandraDataCenter
	for i := range 50 {
		dc := datacenter(fmt.Sprintf("dc%d", i), ns)
		if i != 0 {
			dc.Spec.Restore = nil
		} else {
			restoring = dc
		}
		dcIdx.Add(dc)
	}
	cm, err := plan(restoring, planPods, tokens)
	if err != nil {
		return err
	}
	cm.UID, cm.ResourceVersion = "cm-uid", "1"
	cmIdx.Add(cm)
	s := &webhook.Server{
		Lookup: &webhook.CacheLookup{Datacenters: listers.NewCassandraDataCenterLister(dcIdx), ConfigMaps: corelisters.NewConfigMapLister(cmIdx)},
		Config: webhook.Config{AgentImage: "cassandra-backup-agent"},
	}
	h := s.Handler()
	cases := []struct {
		name string
		body []byte
	}{
		{"planned pod (mutated)", reviewBody(pod(restore.InstaclustrPodName(restoring, "rack1", planPods/2), "dc0"))},
		{"pod beyond the plan (unchanged)", reviewBody(pod("cassandra-dc0-rack1-99999", "dc0"))},
		{"pod of a datacenter without restore", reviewBody(pod("cassandra-dc7-rack1-0", "dc7"))},
	}
	fmt.Printf("### Admission handler in process\n\nAdmissionReview JSON in, JSON patch out (`Server.Handler().ServeHTTP`, no TLS), %d datacenters in the namespace, a plan of %d pods with %d tokens each, %d admissions per case after 1000 warm-up.\n\n", 50, planPods, tokens, iterations)
	fmt.Println("| case | p50 ms | p99 ms | max ms | mean ms | CPU p50 ms | CPU p99 ms | response |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, c := range cases {
		var lat, cpu []time.Duration
		var last *httptest.ResponseRecorder
		runtime.LockOSThread()
		for i := range iterations + 1000 {
			req := httptest.NewRequest(http.MethodPost, webhook.DefaultPath, bytes.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			c0 := threadCPU()
			start := time.Now()
			h.ServeHTTP(w, req)
			d := time.Since(start)
			c1 := threadCPU()
			if i >= 1000 {
				lat = append(lat, d)
				cpu = append(cpu, c1-c0)
			}
			last = w
		}
		runtime.UnlockOSThread()
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(last.Body.Bytes(), &out); err != nil || out.Response == nil || !out.Response.Allowed {
			return fmt.Errorf("%s: response %d %s", c.name, last.Code, last.Body.String())
		}
		what := "allowed, unchanged"
		if len(out.Response.Patch) > 0 {
			what = fmt.Sprintf("allowed, %d-byte patch", len(out.Response.Patch))
		}
		st, ct := summarize(lat), summarize(cpu)
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.name, ms(st.p50), ms(st.p99), ms(st.max), ms(st.mean), ms(ct.p50), ms(ct.p99), what)
	}
	fmt.Println()
	return nil
}

func throughAPIServer(rate, seconds, rounds, tokens int) error {
	ctx := context.Background()
	cp, err := controlplane.Start(ctx, controlplane.Options{})
	if err != nil {
		return err
	}
	defer cp.Stop()
	kube := kubernetes.NewForConfigOrDie(cp.Config())
	client := versioned.NewForConfigOrDie(cp.Config())
	const plainNS, hookNS = "bench-plain", "bench-hook"
	for _, n := range []string{plainNS, hookNS} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	total := rate*seconds*rounds + 200
	var dcs []*v1alpha1.CassandraDataCenter
	for _, n := range []string{plainNS, hookNS} {
		dc := datacenter("dc0", n)
		dc.UID = ""
		out, err := client.CassandraoperatorV1alpha1().CassandraDataCenters(n).Create(ctx, dc, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		dcs = append(dcs, out)
	}
	cm, err := plan(dcs[1], total, 1) // tokens are not read at admission; one keeps 2200 pods under 1 MiB
	if err != nil {
		return err
	}
	if _, err := kube.CoreV1().ConfigMaps(hookNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("plan of %d pods: %w", total, err)
	}

	set := informers.New(kube, client, informers.Config{Namespaces: []string{hookNS}})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ln := &countingListener{Listener: raw}
	url := "https://" + ln.Addr().String() + webhook.DefaultPath
	fail, none, timeout := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, int32(5)
	hook := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "cassandra-backup-operator"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "restore.cassandraoperator.instaclustr.com", AdmissionReviewVersions: []string{"v1"}, SideEffects: &none, FailurePolicy: &fail, TimeoutSeconds: &timeout,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			ObjectSelector:    &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: webhook.DefaultDatacenterLabel, Operator: metav1.LabelSelectorOpExists}}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": hookNS}},
		}},
	}
	if _, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		return err
	}
	certs := &webhook.Certificates{Client: kube, Namespace: hookNS, SecretName: "webhook-cert", ServiceName: "cassandra-backup-operator",
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, WebhookConfiguration: hook.Name}
	if err := certs.Ensure(ctx); err != nil {
		return err
	}
	srv := &webhook.Server{Certificates: certs, Config: webhook.Config{AgentImage: "cassandra-backup-agent"},
		Lookup: &webhook.CacheLookup{Datacenters: set.CassandraDataCenterLister(), ConfigMaps: set.ConfigMapLister()}}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	set.Start(sctx)
	if !set.WaitForCacheSync(sctx) {
		return fmt.Errorf("informer caches did not sync")
	}
	// Served here rather than by srv.Serve, to time the handler inside the run.
	var handled timings
	hs := &http.Server{Handler: handled.wrap(srv.Handler()), TLSConfig: srv.TLSConfig(), ReadHeaderTimeout: 5 * time.Second}
	go hs.ServeTLS(ln, "", "")
	defer hs.Close()

	// Wait until the API server calls the webhook (a created pod comes back mutated).
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		p, err := kube.CoreV1().Pods(hookNS).Create(ctx, pod(restore.InstaclustrPodName(dcs[1], "rack1", total-1-i), "dc0"), metav1.CreateOptions{})
		if err == nil && len(p.Spec.InitContainers) == 1 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not call the webhook: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	next := map[string]int{plainNS: 0, hookNS: 0}
	run := func(namespace string, n int) ([]time.Duration, int, int, error) {
		interval := time.Second / time.Duration(rate)
		var mu sync.Mutex
		var lat []time.Duration
		var errs, mutated int
		var firstErr error
		var wg sync.WaitGroup
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for range n {
			<-tick.C
			i := next[namespace]
			next[namespace]++
			wg.Go(func() {
				start := time.Now()
				p, err := kube.CoreV1().Pods(namespace).Create(ctx, pod(restore.InstaclustrPodName(dcs[1], "rack1", i), "dc0"), metav1.CreateOptions{})
				d := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					return
				}
				if len(p.Spec.InitContainers) > 0 {
					mutated++
				}
				lat = append(lat, d)
			})
		}
		wg.Wait()
		if errs > 0 {
			return lat, mutated, errs, fmt.Errorf("%d pod creations failed, first: %w", errs, firstErr)
		}
		return lat, mutated, errs, nil
	}
	// Warm up both paths.
	for _, n := range []string{plainNS, hookNS} {
		if _, _, _, err := run(n, 100); err != nil {
			return err
		}
	}
	all := map[string][]time.Duration{}
	mutatedBy := map[string]int{}
	for range rounds {
		for _, n := range []string{plainNS, hookNS} {
			lat, m, _, err := run(n, rate*seconds)
			if err != nil {
				return err
			}
			all[n] = append(all[n], lat...)
			mutatedBy[n] += m
		}
	}
	plain, hooked := summarize(all[plainNS]), summarize(all[hookNS])
	fmt.Printf("### Pod creation through kube-apiserver\n\n%d pods/s for %ds, %d interleaved rounds per mode after 100 warm-up pods each; webhook on 127.0.0.1 over TLS with the operator's CA; every pod in the webhook's namespace is in the plan and comes back mutated.\n\n", rate, seconds, rounds)
	fmt.Println("| mode | pods | mutated | p50 ms | p99 ms | max ms | mean ms |")
	fmt.Println("|---|---|---|---|---|---|---|")
	fmt.Printf("| without webhook | %d | %d | %s | %s | %s | %s |\n", plain.n, mutatedBy[plainNS], ms(plain.p50), ms(plain.p99), ms(plain.max), ms(plain.mean))
	fmt.Printf("| with webhook | %d | %d | %s | %s | %s | %s |\n", hooked.n, mutatedBy[hookNS], ms(hooked.p50), ms(hooked.p99), ms(hooked.max), ms(hooked.mean))
	over := func(a, b time.Duration) string { return fmt.Sprintf("%+.0f%%", 100*(float64(b)-float64(a))/float64(a)) }
	fmt.Printf("| overhead | | | %s | %s | | %s |\n\n", over(plain.p50, hooked.p50), over(plain.p99, hooked.p99), over(plain.mean, hooked.mean))
	hst := summarize(handled.take())
	fmt.Printf("Inside the webhook server during the run: handler p50 %s ms, p99 %s ms, max %s ms over %d admissions.\n\n", ms(hst.p50), ms(hst.p99), ms(hst.max), hst.n)
	fmt.Printf("The API server opened %d TLS connections to the webhook for %d admissions.\n\n", ln.accepted.Load(), hooked.n+100)
	return nil
}
