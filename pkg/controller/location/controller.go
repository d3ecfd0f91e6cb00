// Package location is the CassandraBackupLocation controller, the ProviderConfig of this
// project: a location holds a bucket and the Secret that reaches it, and CassandraBackups
// reference it by spec.locationRef. It is two handlers (sync.go) on one timer:
//
//   - check (check.go): every Period, and within Tick of a change of the Secret's content
//     or of the spec, put, read back and delete a probe object under ProbePrefix; the
//     Available condition says whether that worked, and why not (BadCredentials,
//     BucketMissing, TLS, Timeout, Unreachable); status.backups counts the CassandraBackups
//     that use the location;
//   - sync (importer.go), with spec.sync: every committed backup in the bucket (a topology
//     file) that no CassandraBackup in the namespace stands for gets an observe-only
//     (justCreate) CassandraBackup with a deterministic name (names.go) that references
//     the location. status.synced remembers every name it created, so a synced backup a
//     user deleted is not created again, across operator restarts. Nothing is deleted.
//
// The Secret's values are read at each check and never logged, recorded or copied.
package location

import (
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	krecord "k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/azure" // azure:// locations
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"  // file:// locations
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/gcs"   // gcp:// locations
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"    // s3:// locations
)

// Name is the controller's name: its queue and annotations derive from it.
const Name = "location"

// LabelLocation, on a CassandraBackup that sync created, names its CassandraBackupLocation.
const LabelLocation = "cassandraoperator.instaclustr.com/location"

// ProbePrefix is the reserved prefix of the probe objects in a bucket.
const ProbePrefix = ".cassandra-backup-operator/probe/"

// Defaults of Options.
const (
	// DefaultPeriod is the time between two checks of an unchanged location.
	DefaultPeriod = 5 * time.Minute
	// DefaultTick is how often a location looks for a change of its Secret.
	DefaultTick = 15 * time.Second
	// DefaultProbeTimeout bounds one check.
	DefaultProbeTimeout = 30 * time.Second
)

// Options tune the controller; the zero value is the production setting.
type Options struct {
	// Period is the time between two checks of an unchanged location; DefaultPeriod when zero.
	Period time.Duration
	// Tick is how often the Secret is looked at for a change; DefaultTick when zero.
	Tick time.Duration
	// ProbeTimeout bounds one check; DefaultProbeTimeout when zero.
	ProbeTimeout time.Duration
	// Storage is the base storage configuration (endpoint overrides, HTTP client).
	Storage storage.Config
	// Clock tells the time; the real clock when nil.
	Clock clock.WithTicker
}

func (o Options) withDefaults() Options {
	if o.Period <= 0 {
		o.Period = DefaultPeriod
	}
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// Controller reconciles CassandraBackupLocations.
type Controller struct {
	*reconciler.Controller[*v1alpha1.CassandraBackupLocation]

	kube     kubernetes.Interface
	client   versioned.Interface
	backups  listers.CassandraBackupLister
	cfg      Options
	recorder krecord.EventRecorder

	mu sync.Mutex
	// checked is, per location UID, what its last check saw.
	checked map[string]checked
}

// New builds the controller with default Options: the operator.NewFunc listed in
// cmd/cassandra-backup-operator.
func New(deps operator.Deps) (operator.Component, error) {
	return NewWithOptions(deps, Options{Storage: deps.StorageConfig()})
}

// NewWithOptions builds the controller; call it before starting the informers.
func NewWithOptions(deps operator.Deps, opts Options) (*Controller, error) {
	if deps.KubeClient == nil || deps.Client == nil || deps.Informers == nil {
		return nil, fmt.Errorf("location controller: KubeClient, Client and Informers are required")
	}
	c := &Controller{
		kube: deps.KubeClient, client: deps.Client, backups: deps.Informers.CassandraBackupLister(),
		cfg: opts.withDefaults(), recorder: deps.Recorder, checked: map[string]checked{},
	}
	lister := deps.Informers.CassandraBackupLocationLister()
	rc, err := reconciler.New(reconciler.Options[*v1alpha1.CassandraBackupLocation]{
		Name:     Name,
		Informer: deps.Informers.CassandraBackupLocations(),
		Get: func(ns, name string) (*v1alpha1.CassandraBackupLocation, error) {
			return lister.CassandraBackupLocations(ns).Get(name)
		},
		Client: func(ns string) reconciler.Patcher[*v1alpha1.CassandraBackupLocation] {
			return deps.Client.CassandraoperatorV1alpha1().CassandraBackupLocations(ns)
		},
		Conditions:         func(l *v1alpha1.CassandraBackupLocation) *[]metav1.Condition { return &l.Status.Conditions },
		ObservedGeneration: func(l *v1alpha1.CassandraBackupLocation) *int64 { return &l.Status.ObservedGeneration },
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

// handlers is the controller: check on create and update and on the timer, then sync.
func (c *Controller) handlers() []reconciler.Registration[*v1alpha1.CassandraBackupLocation] {
	return []reconciler.Registration[*v1alpha1.CassandraBackupLocation]{
		reconciler.OnCreate("check", c.tick),
		reconciler.OnUpdate("check-update", c.tick),
		reconciler.Every("tick", c.cfg.Tick, c.tick),
	}
}
