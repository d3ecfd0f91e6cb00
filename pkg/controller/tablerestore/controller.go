// Package tablerestore is the CassandraRestore controller: it restores keyspaces or
// tables of a COMPLETED CassandraBackup into a running datacenter, one live-restore
// operation per node on the node's agent (import on Cassandra 4.0+, refresh on 3.x). It is
// a short list of handlers (sync.go):
//
//   - cancel: spec.cancel stops the nodes not finished; finished ones keep their import;
//   - validate: the entities (no system keyspace) and the backup (COMPLETED);
//   - start (target.go): maps the datacenter's nodes to the backup's (by host id in the
//     source datacenter, else by rack and ordinal), refuses when their tokens differ, and
//     records the mapping in status before any agent is contacted;
//   - retry: a raised spec.retry runs the FAILED nodes again, and only them;
//   - run (nodes.go): every node goes through the phases CHECK (table ids and schemas,
//     free space), TRUNCATE (spec.truncate) and IMPORT; a phase starts on a node only when
//     the previous one completed on all of them, so nothing is truncated or imported when
//     a check fails. An agent that stays unreachable longer than the agent timeout fails
//     its node with AgentUnreachable (unreachable.go).
//
// Crash safety: each node's operation key (restore uid, node, phase, attempt) is written
// to status before the operation is submitted; the agent answers a key it knows with the
// operation it started, so a restarted operator never submits one twice. An agent that
// restarted (404) gets the operation again under the same key.
package tablerestore

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	"github.com/cassbackup/cassandra-backup-operator/pkg/secret"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// Name is the controller's name: its queue and annotations derive from it.
const Name = "tablerestore"

// Defaults of Options.
const (
	// DefaultPollInterval is the time between two looks at the agents' operations.
	DefaultPollInterval = 2 * time.Second
	// DefaultMinFreeBytes is the free space a node keeps after the restore when the spec
	// sets none.
	DefaultMinFreeBytes = 1 << 30
	// RateInterval is how often a node's rate and ETA are written to status.
	RateInterval = 5 * time.Second
)

// Options tune the controller; the zero value is the production setting.
type Options struct {
	// AgentAddress returns the agent's base URL for a pod; the agent's named port when nil.
	AgentAddress func(pod *corev1.Pod) (string, error)
	// Agents talks to the agents; a default client when nil.
	Agents *client.Client
	// Storage is the base storage configuration; the restore's Secret is added per use.
	Storage storage.Config
	// PollInterval is the time between two looks at the operations.
	PollInterval time.Duration
	// AgentUnreachableTimeout is how long a node's agent may stay unreachable before the
	// node fails; DefaultAgentUnreachableTimeout when zero.
	AgentUnreachableTimeout time.Duration
	// Now tells the time; time.Now when nil.
	Now func() time.Time
	// Failpoint, when set, is called at named points of a node's phase
	// (FailpointSubmitted: the agent accepted the operation, the status does not record
	// its id yet); an error stops the handler there, as a crash would. For tests.
	Failpoint func(point string) error
}

// FailpointSubmitted is the Failpoint right after an agent accepted a node's operation.
const FailpointSubmitted = "submitted"

func (o Options) withDefaults() Options {
	if o.AgentAddress == nil {
		o.AgentAddress = func(pod *corev1.Pod) (string, error) {
			return plan.AgentAddress(pod, plan.AgentPortName, plan.DefaultAgentPort, "")
		}
	}
	if o.Agents == nil {
		o.Agents = &client.Client{}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.AgentUnreachableTimeout <= 0 {
		o.AgentUnreachableTimeout = DefaultAgentUnreachableTimeout
	}
	if o.Failpoint == nil {
		o.Failpoint = func(string) error { return nil }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Controller reconciles CassandraRestores.
type Controller struct {
	*reconciler.Controller[*v1alpha1.CassandraRestore]

	backups  listers.CassandraBackupLister
	dcs      listers.CassandraDataCenterLister
	pods     corelisters.PodLister
	profiles profile.Registry
	secrets  secret.Reader
	cfg      Options
	recorder krecord.EventRecorder

	mu        sync.Mutex
	meters    map[string]*progress.Meter // by restore uid/node
	unreached map[string]time.Time       // when a node's agent was first unreachable, by restore uid/node
}

// New builds the controller with default Options: the operator.NewFunc listed in
// cmd/cassandra-backup-operator.
func New(deps operator.Deps) (operator.Component, error) {
	return NewWithOptions(deps, Options{Storage: deps.StorageConfig(), Agents: deps.AgentClient()})
}

// NewWithOptions builds the controller; call it before starting the informers.
func NewWithOptions(deps operator.Deps, opts Options) (*Controller, error) {
	if deps.KubeClient == nil || deps.Client == nil || deps.Informers == nil {
		return nil, fmt.Errorf("tablerestore controller: KubeClient, Client and Informers are required")
	}
	c := &Controller{
		backups:   deps.Informers.CassandraBackupLister(),
		dcs:       deps.Informers.CassandraDataCenterLister(),
		pods:      deps.Informers.PodLister(),
		profiles:  deps.Informers.Profiles(),
		secrets:   secret.Reader{Kube: deps.KubeClient},
		cfg:       opts.withDefaults(),
		recorder:  deps.Recorder,
		meters:    map[string]*progress.Meter{},
		unreached: map[string]time.Time{},
	}
	lister := deps.Informers.CassandraRestoreLister()
	rc, err := reconciler.New(reconciler.Options[*v1alpha1.CassandraRestore]{
		Name:     Name,
		Informer: deps.Informers.CassandraRestores(),
		Get: func(ns, name string) (*v1alpha1.CassandraRestore, error) {
			return lister.CassandraRestores(ns).Get(name)
		},
		Client: func(ns string) reconciler.Patcher[*v1alpha1.CassandraRestore] {
			return deps.Client.CassandraoperatorV1alpha1().CassandraRestores(ns)
		},
		Conditions:         func(r *v1alpha1.CassandraRestore) *[]metav1.Condition { return &r.Status.Conditions },
		ObservedGeneration: func(r *v1alpha1.CassandraRestore) *int64 { return &r.Status.ObservedGeneration },
		Handlers:           c.handlers(),
		Recorder:           deps.Recorder,
		HandlerTimeout:     deps.Config.HandlerTimeout,
		Metrics:            deps.Metrics,
		QueueMetrics:       deps.WorkqueueMetrics(),
	})
	if err != nil {
		return nil, err
	}
	c.Controller = rc
	return c, nil
}

// handlers is the controller: for a new and for a changed spec, cancel, validate, start,
// retry and run, in this order.
func (c *Controller) handlers() []reconciler.Registration[*v1alpha1.CassandraRestore] {
	var regs []reconciler.Registration[*v1alpha1.CassandraRestore]
	for _, h := range []struct {
		id string
		fn reconciler.HandlerFunc[*v1alpha1.CassandraRestore]
	}{
		{"cancel", c.cancel},
		{"validate", c.validate},
		{"start", c.start},
		{"retry", c.retry},
		{"run", c.run},
	} {
		regs = append(regs, reconciler.OnCreate(h.id, h.fn), reconciler.OnUpdate(h.id+"-update", h.fn))
	}
	return regs
}
