// Package verification is the CassandraBackupVerification controller: the restore drill.
// For each run it creates a bare Pod of the agent image running `cassandra-backup-agent
// verify` against the backup (pod.go), follows the pod to its end, records the result it
// wrote into its termination message (pkg/verify's summary) in status, and deletes the
// pod. A drill with a schedule runs again at each cron slot (pkg/controller/schedule's
// timetable) and keeps a short history.
//
// Handlers (sync.go): validate, on create and update (the sample, the schedule); tick, a
// timer that moves a run through its steps, each recorded in status before the next:
//
//	(no run)  → PENDING with the pod's name   (the name is a function of the run's slot)
//	PENDING   → RUNNING once the pod exists   (created, or found after a restart)
//	RUNNING   → COMPLETED or FAILED           (the pod ended; its result recorded; pod deleted)
//
// So a restart between two steps neither loses a run nor starts a second pod for it.
package verification

import (
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	krecord "k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// Name is the controller's name: its queue and annotations derive from it.
const Name = "verification"

// LabelVerification, on a drill's pod, names its CassandraBackupVerification.
const LabelVerification = "cassandraoperator.instaclustr.com/verification"

// DefaultPollInterval is how often a running drill's pod is looked at.
const DefaultPollInterval = 5 * time.Second

// DefaultServiceAccount runs drill pods when neither the spec nor Options name one: the
// agents' ServiceAccount, which may read the storage Secrets (the chart's agent.serviceAccountName).
const DefaultServiceAccount = "cassandra"

// Options tune the controller; the zero value is the production setting.
type Options struct {
	// Clock tells the time; the real clock when nil.
	Clock clock.WithTicker
	// PollInterval is how often a running drill's pod is looked at.
	PollInterval time.Duration
	// ServiceAccount runs the drill pods whose spec names none; DefaultServiceAccount when empty.
	ServiceAccount string
	// Image is the agent image; the operator's --agent-image when empty.
	Image string
	// ExtraArgs are appended to the verify command (endpoint overrides, for example).
	ExtraArgs []string
}

func (o Options) withDefaults(deps operator.Deps) Options {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = deps.Config.VerifyServiceAccount
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = DefaultServiceAccount
	}
	if o.Image == "" {
		o.Image = deps.Config.AgentImage
	}
	if deps.Config.AzureEndpoint != "" {
		o.ExtraArgs = append(o.ExtraArgs, "--azure-endpoint="+deps.Config.AzureEndpoint)
	}
	if deps.Config.GCSEndpoint != "" {
		o.ExtraArgs = append(o.ExtraArgs, "--gcs-endpoint="+deps.Config.GCSEndpoint)
	}
	return o
}

// Controller reconciles CassandraBackupVerifications.
type Controller struct {
	*reconciler.Controller[*v1alpha1.CassandraBackupVerification]

	kube     kubernetes.Interface
	backups  listers.CassandraBackupLister
	cfg      Options
	recorder krecord.EventRecorder

	mu      sync.Mutex
	deleted map[string]string // namespace/drill → the pod of its newest run, gone
}

// New builds the controller with default Options: the operator.NewFunc listed in
// cmd/cassandra-backup-operator.
func New(deps operator.Deps) (operator.Component, error) {
	return NewWithOptions(deps, Options{})
}

// NewWithOptions builds the controller; call it before starting the informers.
func NewWithOptions(deps operator.Deps, opts Options) (*Controller, error) {
	if deps.Client == nil || deps.KubeClient == nil || deps.Informers == nil {
		return nil, fmt.Errorf("verification controller: Client, KubeClient and Informers are required")
	}
	c := &Controller{
		kube:     deps.KubeClient,
		backups:  deps.Informers.CassandraBackupLister(),
		cfg:      opts.withDefaults(deps),
		recorder: deps.Recorder,
		deleted:  map[string]string{},
	}
	lister := deps.Informers.CassandraBackupVerificationLister()
	rc, err := reconciler.New(reconciler.Options[*v1alpha1.CassandraBackupVerification]{
		Name:     Name,
		Informer: deps.Informers.CassandraBackupVerifications(),
		Get: func(ns, name string) (*v1alpha1.CassandraBackupVerification, error) {
			return lister.CassandraBackupVerifications(ns).Get(name)
		},
		Client: func(ns string) reconciler.Patcher[*v1alpha1.CassandraBackupVerification] {
			return deps.Client.CassandraoperatorV1alpha1().CassandraBackupVerifications(ns)
		},
		Conditions:         func(v *v1alpha1.CassandraBackupVerification) *[]metav1.Condition { return &v.Status.Conditions },
		ObservedGeneration: func(v *v1alpha1.CassandraBackupVerification) *int64 { return &v.Status.ObservedGeneration },
		Handlers:           c.handlers(),
		Recorder:           deps.Recorder,
		HandlerTimeout:     deps.Config.HandlerTimeout,
		Metrics:            deps.Metrics,
		QueueMetrics:       deps.WorkqueueMetrics(),
		Clock:              c.cfg.Clock,
	})
	if err != nil {
		return nil, err
	}
	c.Controller = rc
	return c, nil
}

// handlers is the controller: validate a new or changed spec, then tick on a timer.
func (c *Controller) handlers() []reconciler.Registration[*v1alpha1.CassandraBackupVerification] {
	return []reconciler.Registration[*v1alpha1.CassandraBackupVerification]{
		reconciler.OnCreate("validate", c.validate),
		reconciler.OnUpdate("validate-update", c.validate),
		reconciler.Every("tick", c.cfg.PollInterval, c.tick),
	}
}

// event records an event on the drill, when the controller has a recorder.
func (c *Controller) event(v *v1alpha1.CassandraBackupVerification, typ, reason, format string, args ...any) {
	if c.recorder != nil {
		c.recorder.Eventf(v, typ, reason, format, args...)
	}
}
