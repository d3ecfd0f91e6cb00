// Package restore is the restore controller: for a CassandraDataCenter with spec.restore
// it resolves the backup, reads the backup's nodes and tokens from the bucket (Bucket, over
// layout.Catalog), pairs the datacenter's pods with the backed-up nodes (by rack, then
// ordinal), writes the plan (pkg/plan) into a ConfigMap owned by the datacenter for the
// webhook to inject, and reports each pod's restore in status.restore from its init
// container. Its handlers: plan and replan (sync.go), and the pods timer.
package restore

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	// The storage providers a backup's location may name.
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/azure"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/gcs"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/s3"
)

// Name is the controller's name: its queue, finalizer and annotations.
const Name = "restore"

// Options tune the controller; the zero value is the production configuration.
type Options struct {
	// Bucket reads backups' nodes and tokens; a StorageBucket over the operator's client
	// when nil.
	Bucket Bucket
	// Storage is the base storage configuration of the default Bucket.
	Storage storage.Config
	// PodName names the datacenter's pods; when nil, as the datacenter's pod profile
	// (its profile annotation, else the operator's default profile) names them.
	PodName PodNameFunc
	// Recheck is how long to wait before looking again at a backup that is missing or not
	// COMPLETED, or at a bucket that could not be read; 15s when 0.
	Recheck time.Duration
	// ActivePoll is how often the pods' restores are checked while some are not done;
	// 2s when 0.
	ActivePoll time.Duration
	// IdlePoll is how often a finished or idle restore is checked; 30s when 0.
	IdlePoll time.Duration
	// Agents reads the restoring pods' progress from their init containers (progress.go);
	// a client without tokens when nil.
	Agents *client.Client
	// Now tells the time; time.Now when nil.
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// Controller is the restore controller.
type Controller struct {
	*reconciler.Controller[*v1alpha1.CassandraDataCenter]

	kube       kubernetes.Interface
	backups    listers.CassandraBackupLister
	configMaps corelisters.ConfigMapLister
	pods       corelisters.PodLister
	recorder   record.EventRecorder
	bucket     Bucket
	podName    PodNameFunc
	profiles   profile.Registry
	opts       Options
	// agents, meters and gate follow the pods' downloads (progress.go).
	agents *client.Client
	meters progress.Meters
	gate   progress.Gate
}

// New builds the controller, with default Options, from the operator process's
// dependencies: it is the operator.NewFunc listed in cmd/cassandra-backup-operator.
// Without our CassandraDataCenter kind (a cass-operator-only install) it is off.
func New(deps operator.Deps) (operator.Component, error) {
	if !deps.Informers.HasCassandraDataCenters() {
		return nil, nil
	}
	return NewWithOptions(deps, Options{Storage: deps.StorageConfig(), Agents: deps.AgentClient()})
}

// NewWithOptions builds the controller from the operator's dependencies; call it before
// starting the informers.
func NewWithOptions(deps operator.Deps, opts Options) (*Controller, error) {
	c := newPlanner(deps, opts)
	ro := ReconcilerOptions(deps)
	ro.Name = Name
	// The plan depends on the restore and on the datacenter's shape.
	ro.Essence = []string{"spec.restore", "spec.nodes", "spec.racks", "spec.cluster", "spec.datacenter"}
	ro.Handlers = []reconciler.Registration[*v1alpha1.CassandraDataCenter]{
		reconciler.OnCreate("plan", c.plan),
		reconciler.OnUpdate("replan", c.plan),
		reconciler.Every("pods", c.opts.IdlePoll, c.progress),
	}
	rc, err := reconciler.New(ro)
	if err != nil {
		return nil, err
	}
	c.Controller = rc
	return c, nil
}

// newPlanner returns the controller without its reconciler: the planning and status
// logic, which the CassandraDatacenter controller (cassdc.go) shares.
func newPlanner(deps operator.Deps, opts Options) *Controller {
	if opts.Recheck <= 0 {
		opts.Recheck = 15 * time.Second
	}
	if opts.ActivePoll <= 0 {
		opts.ActivePoll = 2 * time.Second
	}
	if opts.IdlePoll <= 0 {
		opts.IdlePoll = 30 * time.Second
	}
	c := &Controller{
		kube:       deps.KubeClient,
		backups:    deps.Informers.CassandraBackupLister(),
		configMaps: deps.Informers.ConfigMapLister(),
		pods:       deps.Informers.PodLister(),
		recorder:   deps.Recorder,
		bucket:     opts.Bucket,
		podName:    opts.PodName,
		profiles:   deps.Informers.Profiles(),
		opts:       opts,
		agents:     opts.Agents,
	}
	if c.agents == nil {
		c.agents = &client.Client{}
	}
	if c.bucket == nil {
		c.bucket = &StorageBucket{Kube: deps.KubeClient, Storage: opts.Storage}
	}
	return c
}

// ReconcilerOptions returns reconciler options for CassandraDataCenters, filled from d. The
// essence is spec.restore only, datacenters without a restore are left alone, and
// conditions and observedGeneration live in status.restore: the reconciler writes
// nothing else, so another operator's fields are kept.
func ReconcilerOptions(d operator.Deps) reconciler.Options[*v1alpha1.CassandraDataCenter] {
	lister := d.Informers.CassandraDataCenterLister()
	restore := func(dc *v1alpha1.CassandraDataCenter) *v1alpha1.RestoreStatus {
		if dc.Status.Restore == nil {
			if dc.Spec.Restore == nil {
				return nil
			}
			dc.Status.Restore = &v1alpha1.RestoreStatus{}
		}
		return dc.Status.Restore
	}
	return reconciler.Options[*v1alpha1.CassandraDataCenter]{
		Informer: d.Informers.CassandraDataCenters(),
		Get: func(ns, name string) (*v1alpha1.CassandraDataCenter, error) {
			return lister.CassandraDataCenters(ns).Get(name)
		},
		Client: func(ns string) reconciler.Patcher[*v1alpha1.CassandraDataCenter] {
			return d.Client.CassandraoperatorV1alpha1().CassandraDataCenters(ns)
		},
		Conditions: func(dc *v1alpha1.CassandraDataCenter) *[]metav1.Condition {
			if r := restore(dc); r != nil {
				return &r.Conditions
			}
			return nil
		},
		ObservedGeneration: func(dc *v1alpha1.CassandraDataCenter) *int64 {
			if r := restore(dc); r != nil {
				return &r.ObservedGeneration
			}
			return nil
		},
		Essence:        []string{"spec.restore"},
		Filter:         func(dc *v1alpha1.CassandraDataCenter) bool { return dc.Spec.Restore != nil },
		Recorder:       d.Recorder,
		HandlerTimeout: d.Config.HandlerTimeout,
		Metrics:        d.Metrics,
		QueueMetrics:   d.WorkqueueMetrics(),
	}
}
