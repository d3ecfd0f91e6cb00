// Package schedule is the CassandraBackupSchedule controller: on a cron schedule, in a
// time zone, it creates a CassandraBackup from the schedule's template, and it deletes the
// backups its retention no longer keeps. It is a short list of handlers (sync.go):
//
//   - validate, on create and update: the cron expression and the time zone (slots.go);
//   - tick, a timer: observe the schedule's backups (found by LabelSchedule), start the
//     run that is due (run.go), expire backups (retention.go, a pure function), and come
//     back at the next run time or after PollInterval, whichever is first.
//
// Time comes from an injected clock. A run's name is a function of its slot
// (<schedule>-<UTC time>), so an operator that restarts between creating a run and
// recording it in status finds the run instead of creating a second one.
// Under concurrencyPolicy Forbid a run starts only after a live read of the schedule's
// backups finds none active: the informer cache may not hold yet the run just created.
package schedule

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	krecord "k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// Name is the controller's name: its queue and annotations derive from it.
const Name = "schedule"

// LabelSchedule, on a CassandraBackup, names the schedule that created it; retention
// considers only the backups that carry it.
const LabelSchedule = "cassandraoperator.instaclustr.com/schedule"

// AnnotationSlot, on a CassandraBackup, is the RFC 3339 time the run was due.
const AnnotationSlot = "cassandraoperator.instaclustr.com/scheduled-time"

// DefaultPollInterval is how often a schedule looks at its runs between two run times.
const DefaultPollInterval = 30 * time.Second

// Options tune the controller; the zero value is the production setting.
type Options struct {
	// Clock tells the time, to the handlers and to the queue's delays; the real clock when nil.
	Clock clock.WithTicker
	// PollInterval is how often a schedule's runs are looked at between run times.
	PollInterval time.Duration
	// Failpoint, when set, is called at named points of a run (FailpointCreated: the run's
	// CassandraBackup exists, its schedule's status does not record it yet); an error stops
	// the handler there, as a crash would. For tests.
	Failpoint func(point string) error
	// Backups, when set, is the cache the controller observes runs in instead of the
	// informers' CassandraBackup lister. For tests: a cache that lags behind the API server.
	Backups listers.CassandraBackupLister
}

// FailpointCreated is the Failpoint right after a run's CassandraBackup is created.
const FailpointCreated = "created"

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Failpoint == nil {
		o.Failpoint = func(string) error { return nil }
	}
	return o
}

// Controller reconciles CassandraBackupSchedules.
type Controller struct {
	*reconciler.Controller[*v1alpha1.CassandraBackupSchedule]

	client   versioned.Interface
	backups  listers.CassandraBackupLister
	cfg      Options
	recorder krecord.EventRecorder
	metrics  *Metrics
}

// New builds the controller with default Options: the operator.NewFunc listed in
// cmd/cassandra-backup-operator.
func New(deps operator.Deps) (operator.Component, error) {
	return NewWithOptions(deps, Options{})
}

// NewWithOptions builds the controller; call it before starting the informers.
func NewWithOptions(deps operator.Deps, opts Options) (*Controller, error) {
	if deps.Client == nil || deps.Informers == nil {
		return nil, fmt.Errorf("schedule controller: Client and Informers are required")
	}
	var reg prometheus.Registerer
	if deps.Registry != nil {
		reg = deps.Registry
	}
	m, err := NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	if opts.Backups == nil {
		opts.Backups = deps.Informers.CassandraBackupLister()
	}
	c := &Controller{
		client:   deps.Client,
		backups:  opts.Backups,
		cfg:      opts.withDefaults(),
		recorder: deps.Recorder,
		metrics:  m,
	}
	inf := deps.Informers.CassandraBackupSchedules()
	if err := m.forgetOnDelete(inf); err != nil {
		return nil, err
	}
	lister := deps.Informers.CassandraBackupScheduleLister()
	rc, err := reconciler.New(reconciler.Options[*v1alpha1.CassandraBackupSchedule]{
		Name:     Name,
		Informer: inf,
		Get: func(ns, name string) (*v1alpha1.CassandraBackupSchedule, error) {
			return lister.CassandraBackupSchedules(ns).Get(name)
		},
		Client: func(ns string) reconciler.Patcher[*v1alpha1.CassandraBackupSchedule] {
			return deps.Client.CassandraoperatorV1alpha1().CassandraBackupSchedules(ns)
		},
		Conditions:         func(s *v1alpha1.CassandraBackupSchedule) *[]metav1.Condition { return &s.Status.Conditions },
		ObservedGeneration: func(s *v1alpha1.CassandraBackupSchedule) *int64 { return &s.Status.ObservedGeneration },
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
func (c *Controller) handlers() []reconciler.Registration[*v1alpha1.CassandraBackupSchedule] {
	return []reconciler.Registration[*v1alpha1.CassandraBackupSchedule]{
		reconciler.OnCreate("validate", c.validate),
		reconciler.OnUpdate("validate-update", c.validate),
		reconciler.Every("tick", c.cfg.PollInterval, c.tick),
	}
}
