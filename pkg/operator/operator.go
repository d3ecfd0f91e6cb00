// Package operator wires the operator process: clients, informers, the registered
// components (controllers run while this process leads, Replicated ones such as the webhook
// on every replica), leader election, the health and metrics endpoints, events and
// shutdown. cmd/cassandra-backup-operator only parses flags and calls Run with its list of
// NewFuncs; each controller builds its own reconciler options from Deps.
package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	ownscheme "github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned/scheme"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

// Name is the operator's event source, user agent and field manager prefix.
const Name = "cassandra-backup-operator"

// Deps is what a controller is built from.
type Deps struct {
	// KubeClient talks to the core API.
	KubeClient kubernetes.Interface
	// Client talks to the cassandraoperator API group.
	Client versioned.Interface
	// Dynamic reads and patches kinds of other operators (cass-operator's
	// CassandraDatacenter); nil in tests that do not need it.
	Dynamic dynamic.Interface
	// Informers are the shared informers; controllers register on them before they start.
	Informers *informers.Set
	// Recorder records events on objects.
	Recorder record.EventRecorder
	// Metrics are the reconciler's handler metrics.
	Metrics *reconciler.Metrics
	// QueueMetrics export the controllers' workqueue metrics.
	QueueMetrics *reconciler.QueueMetrics
	// Registry is the Prometheus registry served on /metrics.
	Registry *prometheus.Registry
	// Config is the process configuration.
	Config Config
}

// Component is something the operator runs: a controller (a reconciler.Controller) while
// this process leads, or a Replicated component such as the webhook on every replica.
type Component interface {
	// Run processes work until ctx ends, then drains.
	Run(ctx context.Context, workers int) error
}

// Replicated is a component that runs on every replica, leader or not, from the start:
// the admission webhook must answer wherever its Service sends a request.
type Replicated interface {
	Component
	// Replicated marks the component; it has no behaviour.
	Replicated()
}

// NewFunc builds a component from the process's dependencies; a nil Component (with a
// nil error) means the component is switched off by configuration.
type NewFunc func(Deps) (Component, error)

// Run runs the operator until ctx ends (then drains in-flight work and returns nil) or
// until it loses the leader Lease (then returns an error after draining).
func Run(ctx context.Context, cfg Config, controllers ...NewFunc) (err error) {
	cfg.Defaults()
	if sa := cfg.AgentServiceAccount; sa != "" {
		if ns, name, ok := strings.Cut(sa, "/"); !ok || ns == "" || name == "" {
			return fmt.Errorf("--agent-service-account=%q: want namespace/name", sa)
		}
	}
	logger := klog.FromContext(ctx)
	restCfg, err := restConfig(cfg)
	if err != nil {
		return err
	}
	kubeClient, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	client, err := versioned.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("cassandraoperator client: %w", err)
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		cfg.Identity = host + "_" + uuid.NewString()[:8]
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), version.Collector())
	metrics, err := reconciler.NewMetrics(reg)
	if err != nil {
		return err
	}
	queueMetrics, err := reconciler.NewQueueMetrics(reg)
	if err != nil {
		return err
	}
	if err := registerClientMetrics(reg); err != nil {
		return err
	}
	leading := prometheus.NewGauge(prometheus.GaugeOpts{Name: "operator_leader", Help: "1 while this process runs the controllers."})
	reg.MustRegister(leading)

	scheme := kubescheme.Scheme
	if err := ownscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("register the API types for events: %w", err)
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartStructuredLogging(3)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kubeClient.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: Name})

	profiles, err := profile.NewRegistry(cfg.DefaultProfile)
	if err != nil {
		return fmt.Errorf("--default-profile: %w", err)
	}
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	// Kinds that may be absent (our CassandraDataCenter in a cass-operator-only install,
	// cass-operator's CassandraDatacenter) are looked up once: an informer on a kind the
	// server does not serve would never sync.
	kinds, err := informers.Discover(kubeClient.Discovery())
	if err != nil {
		return err
	}
	logger.Info("Optional kinds", "cassandraDataCenters", !kinds.NoCassandraDataCenters, "cassOperatorDatacenters", kinds.CassOperatorDatacenters)
	set := informers.New(kubeClient, client, informers.Config{Namespaces: cfg.Namespaces, Resync: cfg.Resync, Profiles: profiles, Kinds: kinds, Dynamic: dyn})
	deps := Deps{
		KubeClient: kubeClient, Client: client, Dynamic: dyn, Informers: set, Recorder: recorder,
		Metrics: metrics, QueueMetrics: queueMetrics, Registry: reg, Config: cfg,
	}
	var ctrls, everywhere []Component
	for _, newController := range controllers {
		c, err := newController(deps)
		if err != nil {
			return fmt.Errorf("build controller: %w", err)
		}
		switch c.(type) {
		case nil:
		case Replicated:
			everywhere = append(everywhere, c)
		default:
			ctrls = append(ctrls, c)
		}
	}

	var watchdog *leaderelection.HealthzAdaptor
	if cfg.LeaderElect {
		watchdog = leaderelection.NewLeaderHealthzAdaptor(cfg.RenewDeadline)
	}
	var synced atomic.Bool
	servers, err := serve(ctx, cfg, reg, &synced, watchdog)
	if err != nil {
		return err
	}
	defer servers.shutdown(context.WithoutCancel(ctx))

	informerCtx, stopInformers := context.WithCancel(context.WithoutCancel(ctx))
	set.Start(informerCtx)
	defer func() {
		stopInformers()
		set.Shutdown()
	}()
	// Replicated components run beside the election; a failure of one stops the process.
	ctx, stopAll := context.WithCancelCause(ctx)
	var replicated sync.WaitGroup
	defer replicated.Wait()
	defer stopAll(nil)
	for _, c := range everywhere {
		replicated.Go(func() {
			if err := c.Run(ctx, cfg.Workers); err != nil {
				logger.Error(err, "A replicated component failed; stopping")
				stopAll(err)
			}
		})
	}
	defer func() {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && err == nil {
			err = cause
		}
	}()

	go func() {
		if set.WaitForCacheSync(ctx) {
			synced.Store(true)
			logger.Info("Informer caches synced")
		}
	}()

	runAll := func(ctx context.Context) error {
		leading.Set(1)
		defer leading.Set(0)
		var wg sync.WaitGroup
		errs := make([]error, len(ctrls))
		for i, c := range ctrls {
			wg.Go(func() { errs[i] = c.Run(ctx, cfg.Workers) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	if !cfg.LeaderElect {
		logger.Info("Running controllers", "count", len(ctrls))
		return runAll(ctx)
	}
	return lead(ctx, cfg, kubeClient, recorder, watchdog, runAll)
}

// lead runs fn while this process holds the Lease. On ctx's end fn drains first and the
// Lease is released after, so a successor does not overlap with work in flight.
func lead(ctx context.Context, cfg Config, kubeClient kubernetes.Interface, recorder record.EventRecorder, watchdog *leaderelection.HealthzAdaptor, fn func(context.Context) error) error {
	logger := klog.FromContext(ctx)
	ns := cfg.LeaderElectionNamespace
	if ns == "" {
		ns = os.Getenv("POD_NAMESPACE")
	}
	if ns == "" {
		ns = "default"
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, ns, cfg.LeaderElectionID,
		kubeClient.CoreV1(), kubeClient.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: cfg.Identity, EventRecorder: recorder})
	if err != nil {
		return fmt.Errorf("leader lock: %w", err)
	}
	leCtx, leCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer leCancel()
	var started atomic.Bool
	done := make(chan error, 1)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		WatchDog:        watchdog,
		Name:            cfg.LeaderElectionID,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				started.Store(true)
				logger.Info("Became the leader: running controllers", "identity", cfg.Identity)
				runCtx, cancel := context.WithCancel(lctx)
				stop := context.AfterFunc(ctx, cancel)
				err := fn(runCtx)
				stop()
				cancel()
				done <- err
				leCancel()
			},
			OnStoppedLeading: func() { logger.Info("Stopped leading", "identity", cfg.Identity) },
			OnNewLeader: func(id string) {
				if id != cfg.Identity {
					logger.Info("Following the leader", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	stop := context.AfterFunc(ctx, func() {
		if !started.Load() {
			leCancel()
		}
	})
	defer stop()
	logger.Info("Waiting to become the leader", "lease", ns+"/"+cfg.LeaderElectionID, "identity", cfg.Identity)
	elector.Run(leCtx)
	if !started.Load() {
		return nil
	}
	err = <-done
	if ctx.Err() == nil {
		return errors.Join(errors.New("lost the leader Lease"), err)
	}
	return err
}

// restConfig builds the client configuration.
func restConfig(cfg Config) (*rest.Config, error) {
	c := cfg.REST
	if c == nil {
		var err error
		c, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("client configuration: %w", err)
		}
	} else {
		c = rest.CopyConfig(c)
	}
	c.QPS, c.Burst = cfg.QPS, cfg.Burst
	c.UserAgent = Name
	return c, nil
}

// servers are the process's HTTP endpoints.
type servers []*http.Server

func (s servers) shutdown(ctx context.Context) {
	for _, srv := range s {
		_ = srv.Shutdown(ctx)
	}
}
