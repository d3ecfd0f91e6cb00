package webhook

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
)

// component runs the webhook server (and, unless certificates are mounted, their
// creation and rotation) on every replica of the operator.
type component struct {
	server *Server
	certs  *Certificates // nil with mounted certificates
}

// New builds the webhook from the operator's configuration: it is the operator.NewFunc
// listed in cmd/cassandra-backup-operator. It returns nil when --webhook-port is 0.
func New(deps operator.Deps) (operator.Component, error) {
	cfg := deps.Config
	if cfg.WebhookPort == 0 {
		return nil, nil
	}
	var metrics *Metrics
	if deps.Registry != nil {
		var err error
		if metrics, err = NewMetrics(deps.Registry); err != nil {
			return nil, fmt.Errorf("webhook metrics: %w", err)
		}
	}
	lookup := &CacheLookup{Datacenters: deps.Informers.CassandraDataCenterLister(), ConfigMaps: deps.Informers.ConfigMapLister(), Profiles: deps.Informers.Profiles()}
	if inf := deps.Informers.CassOperatorDatacenters(); inf != nil {
		lookup.CassDatacenters = inf.Indexer()
	}
	c := &component{server: &Server{
		Metrics:  metrics,
		Addr:     net.JoinHostPort(cfg.WebhookBindAddress, strconv.Itoa(cfg.WebhookPort)),
		Lookup:   lookup,
		Profiles: deps.Informers.Profiles(),
		Config:   Config{AgentImage: cfg.AgentImage, ExtraArgs: cfg.AgentRestoreArgs, ImagePullPolicy: corev1.PullIfNotPresent},
		Ready:    deps.Informers.Synced,
		Guard:    cfg.WebhookRestoreGuard,
		Timeouts: cfg.HTTPTimeouts,
		Recorder: deps.Recorder,
	}}
	if cfg.WebhookMountedCerts {
		files := &FileCertificates{CertFile: filepath.Join(cfg.WebhookCertDir, corev1.TLSCertKey), KeyFile: filepath.Join(cfg.WebhookCertDir, corev1.TLSPrivateKeyKey)}
		if err := files.Load(); err != nil {
			return nil, fmt.Errorf("webhook certificates from %s: %w", cfg.WebhookCertDir, err)
		}
		c.server.Certificates = files
		return c, nil
	}
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = cfg.LeaderElectionNamespace
	}
	if ns == "" {
		ns = "default"
	}
	var ips []net.IP
	for _, s := range cfg.WebhookCertIPs {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("--webhook-cert-ip %q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	c.certs = &Certificates{
		Client: deps.KubeClient, Namespace: ns, SecretName: cfg.WebhookCertSecret,
		ServiceName: cfg.WebhookService, IPs: ips, WebhookConfiguration: cfg.WebhookConfiguration,
	}
	c.server.Certificates = c.certs
	return c, nil
}

// Replicated marks the webhook as running on every replica, not only on the leader.
func (c *component) Replicated() {}

// Run serves admission reviews until ctx ends. With operator-made certificates it first
// ensures them (so the server never starts without one) and keeps them renewed.
func (c *component) Run(ctx context.Context, _ int) error {
	if c.certs == nil {
		return c.server.Run(ctx)
	}
	if err := c.certs.Ensure(ctx); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.certs.Run(ctx) })
	g.Go(func() error { return c.server.Run(ctx) })
	return g.Wait()
}
