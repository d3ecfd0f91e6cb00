// Command cassandra-backup-agent backs up and restores one Cassandra node: `serve` runs the
// Icarus-compatible operations API as a sidecar, `restore` restores the node's backup before
// Cassandra starts, as an init container, and `verify` checks a whole backup without a
// node (the restore drill of a CassandraBackupVerification).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // the image has no zoneinfo of its own

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/mgmtapi"
	"github.com/cassbackup/cassandra-backup-operator/pkg/logging"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/serving"
	"github.com/cassbackup/cassandra-backup-operator/pkg/signals"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/azure"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/gcs"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

const usage = `usage: cassandra-backup-agent serve|restore|verify [flags]
       cassandra-backup-agent --version

  serve    run the operations API next to a Cassandra node (sidecar)
  restore  restore this node's backup into the data directory (init container)
  verify   download and check a backup against its manifests (restore drill)

Every flag can also be set through the environment: --snapshot-tag is AGENT_SNAPSHOT_TAG.
`

// defaultDataDir is Cassandra's data directory in both profiles' pods.
const defaultDataDir = "/var/lib/cassandra/data"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signals.Context(context.Background())
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "restore":
		err = restore(ctx, os.Args[2:])
	case "verify":
		err = verifyBackup(ctx, os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	case "--version", "-version", "version":
		version.Print(os.Stdout, "cassandra-backup-agent")
		return
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	klog.Flush()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cassandra-backup-agent %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// parse parses args after applying AGENT_* environment variables as defaults.
func parse(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "AGENT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s: %w", env, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	return fs.Parse(args)
}

// common holds the flags both commands share.
type common struct {
	kubeconfig    string
	azureEndpoint string
	gcsEndpoint   string
	hostname      string
	dataDirs      []string
	logs          *logging.Options
}

func (c *common) register(fs *flag.FlagSet) {
	host, _ := os.Hostname()
	if p := os.Getenv("POD_NAME"); p != "" {
		host = p
	}
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig for reading Secrets; in-cluster configuration when empty")
	fs.StringVar(&c.azureEndpoint, "azure-endpoint", "", "Azure Blob endpoint override ({account} is replaced)")
	fs.StringVar(&c.gcsEndpoint, "gcs-endpoint", "", "Google Cloud Storage endpoint override")
	fs.StringVar(&c.hostname, "hostname", host, "this node's host name (pod name)")
	c.logs = logging.AddFlags(fs)
}

// agent builds the Agent: Secrets come from Kubernetes when a configuration is found,
// credentials without a Secret from the environment.
func (c *common) agent(node cassandra.Node) (*agent.Agent, error) {
	a := &agent.Agent{
		Node: node, DataDirs: c.dataDirs, Hostname: c.hostname,
		Credentials: storage.EnvCredentials(),
		Storage:     storage.Config{AzureEndpoint: c.azureEndpoint, GCSEndpoint: c.gcsEndpoint},
	}
	cfg, err := c.restConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
		a.Secrets = secret.Reader{Kube: client}.Source
	}
	return a, nil
}

// The agent reads the credentials Secret at every storage call (rotation), so client-go's
// default limit of 5 requests/s made a backup of a few dozen files take half a minute.
const (
	kubeQPS   = 100
	kubeBurst = 200
)

func (c *common) restConfig() (*rest.Config, error) {
	cfg, err := c.baseRestConfig()
	if cfg != nil {
		cfg.QPS, cfg.Burst = kubeQPS, kubeBurst
	}
	return cfg, err
}

func (c *common) baseRestConfig() (*rest.Config, error) {
	if c.kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %w", err)
	}
	return cfg, nil
}

func serve(ctx context.Context, args []string) (err error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c common
	c.register(fs)
	fs.Func("data-dir", "Cassandra data directory (repeatable, or comma separated)", func(v string) error {
		c.dataDirs = append(c.dataDirs, strings.FieldsFunc(v, func(r rune) bool { return r == ',' })...)
		return nil
	})
	listen := fs.String("listen", ":4567", "address of the operations API")
	jolokiaURL := fs.String("jolokia-url", "http://127.0.0.1:8778/jolokia/", "Jolokia endpoint of the Cassandra node")
	jolokiaUser := fs.String("jolokia-user", "", "Jolokia user (password from AGENT_JOLOKIA_PASSWORD)")
	var auth authFlags
	auth.register(fs)
	nodeControl := fs.String("node-control", "jolokia", "how the agent controls Cassandra: jolokia (Instaclustr-shaped pods) or management-api (cass-operator / K8ssandra pods)")
	mgmtURL := fs.String("management-api-url", mgmtapi.DefaultURL, "Management API of the Cassandra node (http://host:port or unix:///path.sock), with --node-control=management-api")
	metricsListen := fs.String("metrics-listen", "", "address of the Prometheus /metrics endpoint (unauthenticated); off when empty")
	maxOps := fs.Int("max-operations", agent.DefaultMaxOperations, "operations pending or running at once; beyond, a submission is answered 429 with Retry-After")
	var timeouts serving.Timeouts
	timeouts.Register(fs)
	var prof profiles
	prof.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	stopProfiles, err := prof.start()
	defer func() { err = errors.Join(err, stopProfiles()) }()
	if err != nil {
		return err
	}
	if err := c.logs.Apply(); err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	userAgent := "cassandra-backup-agent/" + version.Get().Version
	var node cassandra.Node
	endpoint := *jolokiaURL
	switch *nodeControl {
	case "jolokia":
		node = &jolokia.Client{URL: *jolokiaURL, Username: *jolokiaUser, Password: os.Getenv("AGENT_JOLOKIA_PASSWORD"),
			Client: &http.Client{Timeout: 10 * time.Minute}, UserAgent: userAgent}
	case "management-api":
		dirs := c.dataDirs
		if len(dirs) == 0 {
			dirs = []string{defaultDataDir}
		}
		node = &mgmtapi.Client{URL: *mgmtURL, DataDirectories: dirs, Client: &http.Client{Timeout: 10 * time.Minute}, UserAgent: userAgent}
		endpoint = *mgmtURL
	default:
		return fmt.Errorf("--node-control=%q: want jolokia or management-api", *nodeControl)
	}
	a, err := c.agent(node)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(version.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.Metrics, err = agent.NewMetrics(reg); err != nil {
		return err
	}
	opsCtx, cancelOps := context.WithCancel(klog.NewContext(context.WithoutCancel(ctx), logger))
	defer cancelOps()
	s := agent.NewServer(opsCtx, a)
	if s.Guard, err = auth.guard(ctx, &c); err != nil {
		return err
	}
	s.MaxOperations = *maxOps
	srv := timeouts.Server(*listen, version.AgentHandler(s.Handler()))
	errc := make(chan error, 2)
	go func() { errc <- fmt.Errorf("listen %s: %w", *listen, srv.ListenAndServe()) }()
	logger.Info("Serving the operations API", "address", *listen, "nodeControl", *nodeControl, "endpoint", endpoint, "version", version.Get().Version)
	if *metricsListen != "" {
		msrv := metricsServer(*metricsListen, reg, timeouts)
		go func() { errc <- fmt.Errorf("metrics: listen %s: %w", *metricsListen, msrv.ListenAndServe()) }()
		defer msrv.Close()
		logger.Info("Serving metrics", "address", *metricsListen)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	cancelOps()
	s.Wait()
	return err
}

// metricsServer serves the agent's Prometheus registry on /metrics: build_info, the
// operations' and transfers' metrics (pkg/agent/metrics.go), the Go runtime's and the
// process's.
func metricsServer(addr string, reg *prometheus.Registry, timeouts serving.Timeouts) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return timeouts.Server(addr, mux)
}

func restore(ctx context.Context, argv []string) (err error) {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var c common
	c.register(fs)
	var args plan.Args
	args.Register(fs)
	resolve := fs.Bool("resolve-host-id-from-topology", false, "find the source node by --hostname in the backup's topology (when --host-id is empty)")
	namespace := fs.String("k8s-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the credentials Secret")
	concurrency := fs.Int("concurrent-connections", 10, "files downloaded at once")
	bandwidth := fs.String("bandwidth", "", "download rate cap, e.g. 50MBPS")
	var prof profiles
	prof.register(fs)
	var auth authFlags
	auth.register(fs)
	if err := parse(fs, argv); err != nil {
		return err
	}
	stopProfiles, err := prof.start()
	defer func() { err = errors.Join(err, stopProfiles()) }()
	if err != nil {
		return err
	}
	if err := c.logs.Apply(); err != nil {
		return err
	}
	if len(args.DataDirs) == 0 {
		args.DataDirs = []string{defaultDataDir}
	}
	c.dataDirs = args.DataDirs
	spec := agent.RestoreSpec{
		Request: api.Request{
			Type: api.TypeRestore, StorageLocation: args.StorageLocation, SnapshotTag: args.SnapshotTag,
			Entities: args.Entities, NewCluster: args.NewCluster, K8sNamespace: *namespace, K8sSecretName: args.SecretName,
			Insecure: args.Insecure, ConcurrentConnections: *concurrency, DataDirs: args.DataDirs,
		},
		Cluster: args.Cluster, Datacenter: args.Datacenter, HostID: args.HostID, ManifestKey: args.ManifestKey, IncludeAuth: args.IncludeAuth,
		CommitLogDir: args.CommitLogDir, HintsDir: args.HintsDir, SavedCachesDir: args.SavedCachesDir,
		TokensFile: args.TokensFile, MarkerFile: args.MarkerFile,
	}
	for _, m := range args.More {
		spec.More = append(spec.More, agent.RestoreSource{HostID: m.HostID, ManifestKey: m.ManifestKey})
	}
	if *resolve {
		spec.Hostname = c.hostname
	}
	if *bandwidth != "" {
		bw, err := parseBandwidth(*bandwidth)
		if err != nil {
			return err
		}
		spec.Bandwidth = &bw
	}
	a, err := c.agent(nil)
	if err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	tr := &agent.Tracker{}
	errTimeout := fmt.Errorf("the restore did not finish within --timeout=%s", args.Timeout)
	ctx, cancel := context.WithTimeoutCause(ctx, args.Timeout, errTimeout)
	defer cancel()
	stopProgress := tr.LogProgress(klog.NewContext(ctx, logger), nil, "Restore progress")
	stopServing := serveRestoreStatus(ctx, args.StatusListen, &auth, &c, spec.Request, tr)
	res, err := a.Restore(klog.NewContext(ctx, logger), spec, tr)
	stopServing()
	stopProgress()
	if err != nil {
		if context.Cause(ctx) == errTimeout {
			return fmt.Errorf("%w: %w", errTimeout, err)
		}
		return err
	}
	if res.AlreadyDone {
		logger.Info("Restore already done: the marker holds this restore's key", "key", res.Key)
		return nil
	}
	logger.Info("Restore done", "key", res.Key, "transfer", tr.Snapshot())
	return nil
}

// parseBandwidth parses <number><unit>, e.g. 50MBPS.
func parseBandwidth(s string) (api.Bandwidth, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i <= 0 {
		return api.Bandwidth{}, fmt.Errorf("bandwidth %q: want a number and a unit, e.g. 50MBPS", s)
	}
	var v int64
	fmt.Sscan(s[:i], &v)
	bw := api.Bandwidth{Value: v, Unit: strings.ToUpper(s[i:])}
	if _, err := bw.BytesPerSecond(); err != nil {
		return api.Bandwidth{}, err
	}
	return bw, nil
}
