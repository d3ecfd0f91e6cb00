// Command webhook benchmarks the restore webhook: the admission handler in process
// (AdmissionReview JSON in, JSON patch out, lookups in informer caches) and pod creation
// through a real kube-apiserver at a fixed rate, with and without the webhook in the path.
// The webhook server runs in a process of its own (this binary, re-executed), as it does
// in the operator, so its CPU, GC and scheduling are not mixed with the load generator's.
// It prints Markdown tables. Run it through run.sh.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
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

func main() {
	iterations := flag.Int("iterations", 20000, "in-process admissions per case")
	planPods := flag.Int("plan-pods", 100, "pods in the in-process plan")
	tokens := flag.Int("tokens", 16, "tokens per node")
	rate := flag.Int("rate", 100, "pods created per second through the API server")
	seconds := flag.Int("seconds", 10, "seconds of pod creation per mode and round")
	rounds := flag.Int("rounds", 3, "rounds; each round runs every mode once, in a rotated order")
	skipE2E := flag.Bool("skip-apiserver", false, "only the in-process benchmark")
	skipInProcess := flag.Bool("skip-in-process", false, "only the benchmark through the API server")
	profileDir := flag.String("profile-dir", "", "write CPU profiles of kube-apiserver (one per mode, first round) and of the webhook server here")
	watchPods := flag.Bool("webhook-watches-pods", false, "the webhook process also runs a pod informer on its namespace (what the benchmark used to do; for comparison)")
	http2 := flag.Bool("webhook-http2", false, "the webhook server also speaks HTTP/2 (what it used to do; for comparison)")
	serve := flag.Bool("serve-webhook", false, "internal: serve the webhook (the child process)")
	kubeconfig := flag.String("kubeconfig", "", "internal: kubeconfig of the child process")
	namespace := flag.String("namespace", "", "internal: namespace the child process watches")
	cpuProfile := flag.String("cpuprofile", "", "internal: CPU profile of the child process")
	flag.Parse()
	if *serve {
		if err := serveWebhook(*kubeconfig, *namespace, *cpuProfile, *watchPods, *http2); err != nil {
			fmt.Fprintln(os.Stderr, "bench webhook server:", err)
			os.Exit(1)
		}
		return
	}
	if !*skipInProcess {
		if err := inProcess(*iterations, *planPods, *tokens); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if *skipE2E {
		return
	}
	o := e2eOptions{rate: *rate, seconds: *seconds, rounds: *rounds, profileDir: *profileDir, watchPods: *watchPods, http2: *http2}
	if err := throughAPIServer(o); err != nil {
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

func makePlan(dc *v1alpha1.CassandraDataCenter, pods, tokens int) (*plan.Plan, *corev1.ConfigMap, error) {
	p := &plan.Plan{Restore: *dc.Spec.Restore, Backup: "b1", StorageLocation: "s3://cassandra-bucket", SnapshotTag: "snap",
		SourceCluster: "test-cluster", SourceDatacenter: "dc1", Secret: "cloud-backup-secrets", Pods: map[string]plan.PodPlan{}}
	for i := range pods {
		var toks []string
		for j := range tokens {
			toks = append(toks, fmt.Sprint(int64(i*tokens+j)*1_000_000_007-4_611_686_018_427_387_904))
		}
		hostID := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		p.Pods[restore.InstaclustrPodName(dc, "rack1", i)] = plan.PodPlan{SourceNode: fmt.Sprintf("cassandra-src-rack1-%d", i), Rack: "rack1",
			HostID: hostID, RestoreKey: "s3://cassandra-bucket|test-cluster/dc1/" + hostID + "/manifests/snap-x-1.json", Tokens: toks}
	}
	cm, err := p.ConfigMap(dc)
	return p, cm, err
}

func pod(name, dc string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{informers.LabelDatacenter: dc, informers.LabelCluster: "clone"}},
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
	_, cm, err := makePlan(restoring, planPods, tokens)
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
