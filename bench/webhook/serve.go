package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/informers/externalversions"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
)

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

// take returns the durations recorded since the last take.
func (t *timings) take() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.d
	t.d = nil
	return d
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

// serverStats is what the webhook process reports on each "stats" line of its stdin:
// the handler durations since the previous report and its running totals.
type serverStats struct {
	Handler  []time.Duration `json:"handler"`
	Accepted int64           `json:"accepted"`
	CPU      time.Duration   `json:"cpu"`
	NumGC    uint32          `json:"numGC"`
	GCPause  time.Duration   `json:"gcPause"`
}

// listenerFD is the descriptor of the listener the parent passes to the webhook process.
const listenerFD = 3

// serveWebhook is the webhook process: the operator's webhook wiring (certificates in a
// Secret, caBundle patched, informers on datacenters and plan ConfigMaps only) serving on
// the listener inherited from the parent. watchPods adds a pod informer (what this
// benchmark used to run), http2 turns HTTP/2 back on: both for comparison. It answers "stats" lines on stdin and exits
// when stdin closes.
func serveWebhook(kubeconfig, namespace, cpuProfile string, watchPods, http2 bool) error {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	own := externalversions.NewSharedInformerFactoryWithOptions(client, 0, externalversions.WithNamespace(namespace))
	cms := kubeinformers.NewSharedInformerFactoryWithOptions(kube, 0, kubeinformers.WithNamespace(namespace),
		kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = plan.Label }))
	dcs, plans := own.Cassandraoperator().V1alpha1().CassandraDataCenters(), cms.Core().V1().ConfigMaps()
	synced := []cache.InformerSynced{dcs.Informer().HasSynced, plans.Informer().HasSynced}
	if watchPods {
		pods := kubeinformers.NewSharedInformerFactoryWithOptions(kube, 0, kubeinformers.WithNamespace(namespace),
			kubeinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = informers.LabelDatacenter }))
		synced = append(synced, pods.Core().V1().Pods().Informer().HasSynced)
		pods.Start(ctx.Done())
	}
	own.Start(ctx.Done())
	cms.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("informer caches did not sync")
	}

	certs := &webhook.Certificates{Client: kube, Namespace: namespace, SecretName: "webhook-cert", ServiceName: "cassandra-backup-operator",
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, WebhookConfiguration: webhookName}
	if err := certs.Ensure(ctx); err != nil {
		return err
	}
	srv := &webhook.Server{Certificates: certs, Config: webhook.Config{AgentImage: "cassandra-backup-agent"},
		Lookup: &webhook.CacheLookup{Datacenters: dcs.Lister(), ConfigMaps: plans.Lister()}}
	raw, err := net.FileListener(os.NewFile(listenerFD, "webhook-listener"))
	if err != nil {
		return err
	}
	ln := &countingListener{Listener: raw}
	// The server Serve runs, with the handler timed.
	var handled timings
	hs := srv.HTTPServer()
	hs.Handler = handled.wrap(hs.Handler)
	if http2 {
		hs.Protocols.SetHTTP2(true)
	}
	go hs.ServeTLS(ln, "", "")
	defer hs.Close()

	out := json.NewEncoder(os.Stdout)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "stats" {
			continue
		}
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := serverStats{Handler: handled.take(), Accepted: ln.accepted.Load(),
			CPU:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
			NumGC: ms.NumGC, GCPause: time.Duration(ms.PauseTotalNs)}
		if err := out.Encode(st); err != nil {
			return err
		}
	}
	return in.Err()
}
