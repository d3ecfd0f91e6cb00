package operator

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/serving"
)

// Config is how the operator process runs. The zero value, after Defaults, runs every
// controller over all namespaces without leader election.
type Config struct {
	// Kubeconfig is the path of a kubeconfig file; in-cluster configuration when empty.
	Kubeconfig string
	// REST, when set, is used instead of Kubeconfig (tests).
	REST *rest.Config
	// Namespaces to watch; all namespaces when empty.
	Namespaces []string
	// Workers is the number of workers of each controller.
	Workers int
	// Resync is how often the informers hand every cached object to the controllers again.
	Resync time.Duration
	// HandlerTimeout bounds each handler call (reconciler.Options.HandlerTimeout);
	// reconciler.DefaultHandlerTimeout when zero.
	HandlerTimeout time.Duration

	// LeaderElect runs the controllers only while this process holds the Lease.
	LeaderElect bool
	// LeaderElectionNamespace holds the Lease; the POD_NAMESPACE environment variable, or
	// "default", when empty.
	LeaderElectionNamespace string
	// LeaderElectionID names the Lease.
	LeaderElectionID string
	// Identity names this process in the Lease; host name and a random suffix when empty.
	Identity string
	// LeaseDuration is how long followers wait before taking over an unrenewed Lease.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps retrying to renew before giving up.
	RenewDeadline time.Duration
	// RetryPeriod is the time between tries to acquire or renew.
	RetryPeriod time.Duration

	// MetricsAddr serves /metrics; "0" disables.
	MetricsAddr string
	// HealthAddr serves /healthz and /readyz; "0" disables.
	HealthAddr string
	// HTTPTimeouts bound clients of the metrics, health and webhook servers.
	HTTPTimeouts serving.Timeouts

	// WebhookPort is the port of the admission webhook server; 0 disables the webhook.
	WebhookPort int
	// WebhookBindAddress is the address the webhook listens on; all addresses when empty.
	WebhookBindAddress string
	// WebhookCertDir holds tls.crt and tls.key for the webhook server when
	// WebhookMountedCerts is set (cert-manager, for example).
	WebhookCertDir string
	// WebhookMountedCerts serves the certificate in WebhookCertDir instead of the one
	// the operator creates and rotates itself.
	WebhookMountedCerts bool
	// WebhookCertSecret is the Secret, in the operator's namespace, where the replicas
	// share the CA and serving certificate the operator creates.
	WebhookCertSecret string
	// WebhookService is the webhook's Service; the certificate names it.
	WebhookService string
	// WebhookConfiguration is the MutatingWebhookConfiguration whose caBundle the
	// operator keeps; none when empty.
	WebhookConfiguration string
	// WebhookRestoreGuard says the restore guard (the chart's ValidatingAdmissionPolicy)
	// is installed: until its caches sync the webhook admits pods unchanged, and the guard
	// holds back those of datacenters with a pending restore.
	WebhookRestoreGuard bool
	// WebhookCertIPs are IP addresses the created certificate is valid for (a webhook
	// called by url, as in the local demo).
	WebhookCertIPs []string
	// AzureEndpoint overrides the Azure Blob endpoint the controllers read backups from,
	// a template with {account} (sovereign clouds, Azurite); the public cloud when empty.
	AzureEndpoint string
	// GCSEndpoint overrides the Google Cloud Storage endpoint (fake-gcs-server, private
	// endpoints); the public one when empty.
	GCSEndpoint string
	// AgentImage is the image of the restore init container and of restore drill pods.
	AgentImage string
	// VerifyServiceAccount runs the restore drill pods (CassandraBackupVerification) whose
	// spec names none: a ServiceAccount that may read the storage Secret in the drill's
	// namespace (the agents' own); "cassandra" when empty.
	VerifyServiceAccount string
	// AgentRestoreArgs are appended to the restore init container's arguments.
	AgentRestoreArgs []string
	// DefaultProfile names the pod profile (pkg/profile) used where neither a pod's labels
	// nor an annotation say otherwise; instaclustr when empty.
	DefaultProfile string

	// AgentTokenFile, when set, is the file of the token sent to the agents, re-read at
	// every request (a projected ServiceAccount token); {namespace} is replaced by the
	// agents' namespace, whose audience (api.Audience) the token must carry. When empty,
	// tokens are minted with the TokenRequest API for AgentServiceAccount.
	AgentTokenFile string
	// AgentServiceAccount is namespace/name of the ServiceAccount whose tokens are sent to
	// the agents; the operator's own (SelfSubjectReview) when empty.
	AgentServiceAccount string

	// QPS and Burst limit the API client; 50 and 100 when zero.
	QPS   float32
	Burst int
}

// BindFlags registers the operator's flags on fs, with their defaults.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	c.QPS = 50
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "Path of a kubeconfig file; in-cluster configuration when empty.")
	fs.Var((*stringList)(&c.Namespaces), "namespace", "Namespace to watch; repeat the flag (or separate with commas) for several. All namespaces when absent.")
	fs.IntVar(&c.Workers, "workers", 4, "Workers per controller.")
	fs.DurationVar(&c.HandlerTimeout, "handler-timeout", reconciler.DefaultHandlerTimeout, "Deadline of each reconcile handler call; a handler that exceeds it fails with reason DeadlineExceeded and is retried. Negative: no deadline.")
	fs.DurationVar(&c.Resync, "resync", 10*time.Minute, "How often every cached object is reconciled again; 0 disables.")
	fs.BoolVar(&c.LeaderElect, "leader-elect", false, "Run controllers only while holding the leader Lease, so several replicas can run.")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-elect-namespace", "", "Namespace of the leader Lease; $POD_NAMESPACE or default when empty.")
	fs.StringVar(&c.LeaderElectionID, "leader-elect-id", "cassandra-backup-operator", "Name of the leader Lease.")
	fs.StringVar(&c.Identity, "leader-elect-identity", "", "This process's identity in the Lease; host name and a random suffix when empty.")
	fs.DurationVar(&c.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long followers wait before taking over an unrenewed Lease.")
	fs.DurationVar(&c.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader retries renewing before it gives up leading.")
	fs.DurationVar(&c.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "Time between tries to acquire or renew the Lease.")
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus /metrics endpoint; 0 disables.")
	fs.StringVar(&c.HealthAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints; 0 disables.")
	c.HTTPTimeouts.Register(fs)
	fs.Var((*float32Value)(&c.QPS), "kube-api-qps", "Queries per second to the API server.")
	fs.IntVar(&c.Burst, "kube-api-burst", 100, "Burst of queries to the API server.")
	fs.IntVar(&c.WebhookPort, "webhook-port", 9443, "Port of the admission webhook server; 0 disables the webhook.")
	fs.StringVar(&c.WebhookBindAddress, "webhook-bind-address", "", "Address the webhook listens on; all addresses when empty.")
	fs.StringVar(&c.WebhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "Directory holding tls.crt and tls.key, with --webhook-mounted-certs.")
	fs.BoolVar(&c.WebhookMountedCerts, "webhook-mounted-certs", false, "Serve the certificate mounted in --webhook-cert-dir (cert-manager) instead of creating and rotating one.")
	fs.StringVar(&c.WebhookCertSecret, "webhook-cert-secret", "cassandra-backup-operator-webhook-cert", "Secret in the operator's namespace holding the CA and serving certificate the replicas share.")
	fs.StringVar(&c.WebhookService, "webhook-service", "cassandra-backup-operator", "The webhook's Service, named in the certificate.")
	fs.StringVar(&c.WebhookConfiguration, "webhook-configuration", "cassandra-backup-operator", "MutatingWebhookConfiguration whose caBundle the operator keeps; empty for none.")
	fs.BoolVar(&c.WebhookRestoreGuard, "webhook-restore-guard", false, "The restore guard ValidatingAdmissionPolicy is installed: while its caches sync the webhook admits pods unchanged instead of denying them.")
	fs.Var((*stringList)(&c.WebhookCertIPs), "webhook-cert-ip", "IP address the created certificate is valid for (repeatable), for a webhook called by url.")
	fs.StringVar(&c.AzureEndpoint, "azure-endpoint", "", "Azure Blob endpoint template with {account}, e.g. http://127.0.0.1:10000/{account}; the public cloud when empty.")
	fs.StringVar(&c.GCSEndpoint, "gcs-endpoint", "", "Google Cloud Storage endpoint, e.g. http://127.0.0.1:4443/storage/v1/; the public one when empty.")
	fs.StringVar(&c.AgentImage, "agent-image", "ghcr.io/cassbackup/cassandra-backup-agent:v0.1.0", "Image of the restore init container.")
	fs.StringVar(&c.VerifyServiceAccount, "verify-service-account", "cassandra", "ServiceAccount of restore drill pods (CassandraBackupVerification) whose spec names none; it must be able to read the storage Secret.")
	fs.StringVar(&c.AgentTokenFile, "agent-token-file", "", "File of the ServiceAccount token sent to the agents, re-read at every request; {namespace} is replaced by the agents' namespace (audience cassandra-backup-agent.<namespace>). Empty: tokens minted with the TokenRequest API.")
	fs.StringVar(&c.AgentServiceAccount, "agent-service-account", "", "namespace/name of the ServiceAccount whose tokens (TokenRequest API, one audience per namespace) are sent to the agents; the operator's own when empty.")
	fs.Var((*stringList)(&c.AgentRestoreArgs), "agent-restore-arg", "Argument appended to the restore init container's command (repeatable), e.g. --gcs-endpoint=….")
	fs.StringVar(&c.DefaultProfile, "default-profile", profile.Instaclustr, "Pod profile (instaclustr or cass-operator) of datacenters and backups whose pods' labels or profile annotation do not say.")
}

// Defaults fills the fields left zero.
func (c *Config) Defaults() {
	if c.Workers < 1 {
		c.Workers = 4
	}
	if c.LeaderElectionID == "" {
		c.LeaderElectionID = "cassandra-backup-operator"
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = 15 * time.Second
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = 10 * time.Second
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = 2 * time.Second
	}
	if c.QPS == 0 {
		c.QPS = 50
	}
	if c.Burst == 0 {
		c.Burst = 100
	}
}

// stringList is a repeatable, comma-separable flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return fmt.Errorf("empty value in %q", v)
		}
		*s = append(*s, part)
	}
	return nil
}

// float32Value is a float32 flag.
type float32Value float32

func (f *float32Value) String() string { return strconv.FormatFloat(float64(*f), 'g', -1, 32) }

func (f *float32Value) Set(v string) error {
	x, err := strconv.ParseFloat(v, 32)
	if err != nil {
		return fmt.Errorf("not a number: %q", v)
	}
	*f = float32Value(x)
	return nil
}
