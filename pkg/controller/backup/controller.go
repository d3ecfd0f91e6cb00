// Package backup is the CassandraBackup controller. Each backup is treated like a
// Crossplane managed resource for the remote backup in the bucket, and the controller is a
// short list of handlers (sync.go) over one seam, External (external.go):
//
//   - validate (checks.go): the spec, and the Secret with the guide's rules;
//   - observe: justCreate imports a remote backup found by External.Observe;
//   - start: picks the nodes and the snapshot, checks each node's identity, agent version
//     and spec.cdc (identify.go) and that the tag is unused, and records them in status
//     before any agent is contacted;
//   - await-nodes: External.CreateNode / ObserveNode / DeleteNode drive one operation per
//     node on its agent, by requeue (nodes.go decides retries, resubmission, timeouts);
//   - commit: External.Create writes the topology file, the backup's commit point;
//   - delete (deletion.go): held while a datacenter restores from the backup; cancels
//     operations and, with deletionPolicy Delete (and spec.deleteImported for an import),
//     External.Delete removes it through the one garbage collector, pkg/gc, which honours
//     backups in flight (collect.go).
//
// The External in production talks to the agents (pkg/agent/client) and reads the bucket
// through layout.Catalog. Ready and Synced carry the reasons declared in checks.go.
package backup

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	krecord "k8s.io/client-go/tools/record"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/azure" // azure:// locations
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"  // file:// locations
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/gcs"   // gcp:// locations
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"    // s3:// locations
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

// Name is the controller's name: its queue, finalizer and annotations derive from it.
const Name = "backup"

// Defaults of Options.
const (
	// DefaultAgentPortName is the name of the container port the agent listens on.
	DefaultAgentPortName = plan.AgentPortName
	// DefaultAgentPort is the agent's port when no container port has the agent's name.
	DefaultAgentPort = plan.DefaultAgentPort
	// DefaultPollInterval is the time between two looks at the agents' operations.
	DefaultPollInterval = 2 * time.Second
	// DefaultMaxAttempts is how many times a node's failing operation is submitted.
	DefaultMaxAttempts = 3
	// DefaultImportInterval is how often a justCreate backup not found yet is looked for.
	DefaultImportInterval = time.Minute
	// DefaultTimeout bounds a backup whose spec sets no timeout.
	DefaultTimeout = 5 * time.Hour
)

// Options tune the controller; the zero value is the production setting. The pod labels
// come from the pod profiles of the informers (pkg/profile), which select the pods by them.
type Options struct {
	// AgentPortName names the agent's container port; DefaultAgentPortName when empty.
	AgentPortName string
	// AgentAddress returns the agent's base URL for a pod; PodAgentAddress when nil.
	AgentAddress func(pod *corev1.Pod) (string, error)
	// Agents talks to the agents; a default client when nil.
	Agents *client.Client
	// External acts on the outside world; the agents (Agents) and the bucket's
	// layout.Catalog when nil.
	External External
	// Storage is the base storage configuration (endpoints, HTTP client); the backup's
	// Secret and insecure flag are added per use.
	Storage storage.Config
	// PollInterval is the time between two looks at the operations, jittered by ±20%.
	PollInterval time.Duration
	// MaxAttempts is how many times a failing node operation is submitted in all.
	MaxAttempts int
	// ImportInterval is how often a justCreate backup that was not found is looked for.
	ImportInterval time.Duration
	// MaxSecretBackoff caps the delay between looks for a missing or invalid Secret.
	MaxSecretBackoff time.Duration
	// Now tells the time; time.Now when nil.
	Now func() time.Time
	// Version is the operator's version, which the agents' versions are checked against
	// (version.CheckAgent); this build's when empty.
	Version string
}

func (c Options) withDefaults() Options {
	if c.AgentPortName == "" {
		c.AgentPortName = DefaultAgentPortName
	}
	if c.AgentAddress == nil {
		name := c.AgentPortName
		c.AgentAddress = func(pod *corev1.Pod) (string, error) { return PodAddress(pod, name, DefaultAgentPort, "") }
	}
	if c.Agents == nil {
		c.Agents = &client.Client{}
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.ImportInterval <= 0 {
		c.ImportInterval = DefaultImportInterval
	}
	if c.MaxSecretBackoff <= 0 {
		c.MaxSecretBackoff = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Version == "" {
		c.Version = version.Get().Version
	}
	return c
}

// PodAddress returns http://<pod IP>:<port><path>, the port being the container port
// named portName, or def when no container port has that name.
func PodAddress(pod *corev1.Pod, portName string, def int32, path string) (string, error) {
	return plan.AgentAddress(pod, portName, def, path)
}

// Controller reconciles CassandraBackups.
type Controller struct {
	*reconciler.Controller[*v1alpha1.CassandraBackup]

	kube    kubernetes.Interface
	backups listers.CassandraBackupLister
	pods    corelisters.PodLister
	// locations resolve spec.locationRef.
	locations listers.CassandraBackupLocationLister
	// profiles say which labels select a backup's pods (profile.Registry).
	profiles profile.Registry
	cfg      Options
	ext      External

	dcs       listers.CassandraDataCenterLister
	dcsSynced func() bool
	// recorder records the events the handlers emit themselves; nil records none.
	recorder krecord.EventRecorder

	// meters measure each running node's rate; gate spaces progress-only status writes
	// (progress.go).
	meters progress.Meters
	gate   progress.Gate
}

// New builds the controller, with default Options, from the operator process's
// dependencies: it is the operator.NewFunc listed in cmd/cassandra-backup-operator.
func New(deps operator.Deps) (operator.Component, error) {
	return NewWithOptions(deps, Options{Storage: deps.StorageConfig(), Agents: deps.AgentClient()})
}

// NewWithOptions builds the controller from the operator's dependencies; call it before
// starting the informers.
func NewWithOptions(deps operator.Deps, opts Options) (*Controller, error) {
	if deps.KubeClient == nil || deps.Client == nil || deps.Informers == nil {
		return nil, fmt.Errorf("backup controller: KubeClient, Client and Informers are required")
	}
	c := &Controller{
		kube:      deps.KubeClient,
		backups:   deps.Informers.CassandraBackupLister(),
		pods:      deps.Informers.PodLister(),
		locations: deps.Informers.CassandraBackupLocationLister(),
		profiles:  deps.Informers.Profiles(),
		cfg:       opts.withDefaults(),

		dcs:       deps.Informers.CassandraDataCenterLister(),
		dcsSynced: deps.Informers.CassandraDataCenters().HasSynced,
		recorder:  deps.Recorder,
	}
	c.ext = c.cfg.External
	if c.ext == nil {
		c.ext = &remote{open: c.openStorage, pods: c.pods, agents: c.cfg.Agents, cfg: c.cfg, backups: c.backups}
	}
	ro := ReconcilerOptions(deps)
	ro.Name = Name
	ro.Handlers = c.handlers()
	rc, err := reconciler.New(ro)
	if err != nil {
		return nil, err
	}
	c.Controller = rc
	return c, nil
}

// ReconcilerOptions returns reconciler options for CassandraBackups, filled from deps:
// informer, cache, client, conditions, observedGeneration, events and metrics. Set Name
// and Handlers, then call reconciler.New.
func ReconcilerOptions(deps operator.Deps) reconciler.Options[*v1alpha1.CassandraBackup] {
	lister := deps.Informers.CassandraBackupLister()
	return reconciler.Options[*v1alpha1.CassandraBackup]{
		Informer: deps.Informers.CassandraBackups(),
		Get: func(ns, name string) (*v1alpha1.CassandraBackup, error) {
			return lister.CassandraBackups(ns).Get(name)
		},
		Client: func(ns string) reconciler.Patcher[*v1alpha1.CassandraBackup] {
			return deps.Client.CassandraoperatorV1alpha1().CassandraBackups(ns)
		},
		Conditions:         func(b *v1alpha1.CassandraBackup) *[]metav1.Condition { return &b.Status.Conditions },
		ObservedGeneration: func(b *v1alpha1.CassandraBackup) *int64 { return &b.Status.ObservedGeneration },
		Recorder:           deps.Recorder,
		HandlerTimeout:     deps.Config.HandlerTimeout,
		Metrics:            deps.Metrics,
		QueueMetrics:       deps.WorkqueueMetrics(),
	}
}

// handlers is the controller: for a new and for a changed spec, cancel (spec.cancel),
// validate, observe (justCreate), start, await-nodes and commit, in this order; on
// deletion, delete.
func (c *Controller) handlers() []reconciler.Registration[*v1alpha1.CassandraBackup] {
	var regs []reconciler.Registration[*v1alpha1.CassandraBackup]
	for _, h := range []struct {
		id string
		fn reconciler.HandlerFunc[*v1alpha1.CassandraBackup]
	}{
		{"cancel", c.cancel},
		{"validate", c.validate},
		{"observe", c.observe},
		{"start", c.start},
		{"await-nodes", c.awaitNodes},
		{"commit", c.commit},
	} {
		regs = append(regs, reconciler.OnCreate(h.id, h.fn), reconciler.OnUpdate(h.id+"-update", h.fn))
	}
	return append(regs, reconciler.OnDelete("delete", c.delete))
}
