package metrics

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
)

// Component exports backup and restore metrics, and logs every state change of a backup
// or restore (one line each), while it runs (on the leader).
type Component struct {
	active      atomic.Bool
	transitions *transitions
}

// New registers the metrics on the operator's registry and the transition handlers on its
// informers: the operator.NewFunc listed in cmd/cassandra-backup-operator.
func New(deps operator.Deps) (operator.Component, error) {
	return NewWithClock(deps, time.Now)
}

// NewWithClock is New with the clock that times restores.
func NewWithClock(deps operator.Deps, now func() time.Time) (*Component, error) {
	if deps.Informers == nil || deps.Registry == nil {
		return nil, fmt.Errorf("metrics: Informers and Registry are required")
	}
	c := &Component{}
	t := newTransitions(&c.active, now)
	c.transitions = t
	col := &collector{backups: deps.Informers.CassandraBackupLister(), dcs: deps.Informers.CassandraDataCenterLister(), active: &c.active}
	tr := newTableRestores(deps.Informers.CassandraRestoreLister(), &c.active, now)
	cassDCs := deps.Informers.CassOperatorDatacenters()
	if cassDCs != nil {
		col.cassDCs = cassDCs.Indexer()
	}
	for _, m := range append(append(t.collectors(), col), tr.collectors()...) {
		if err := deps.Registry.Register(m); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	if err := deps.Informers.CassandraBackups().AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(o, n any) {
		old, ok1 := o.(*v1alpha1.CassandraBackup)
		b, ok2 := n.(*v1alpha1.CassandraBackup)
		if ok1 && ok2 {
			t.backup(old, b)
		}
	}}); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := deps.Informers.CassandraDataCenters().AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(o, n any) {
		old, ok1 := o.(*v1alpha1.CassandraDataCenter)
		dc, ok2 := n.(*v1alpha1.CassandraDataCenter)
		if ok1 && ok2 {
			t.restore(old, dc)
		}
	}}); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := deps.Informers.CassandraRestores().AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(o, n any) {
		old, ok1 := o.(*v1alpha1.CassandraRestore)
		r, ok2 := n.(*v1alpha1.CassandraRestore)
		if ok1 && ok2 {
			tr.observe(old, r)
		}
	}}); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if cassDCs != nil {
		if err := cassDCs.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(o, n any) {
			old, ok1 := view(o)
			dc, ok2 := view(n)
			if ok1 && ok2 {
				t.restore(old, dc)
			}
		}}); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return c, nil
}

// Run exports the metrics until ctx ends (the process stops leading).
func (c *Component) Run(ctx context.Context, _ int) error {
	logger := klog.FromContext(ctx).WithName("transitions")
	c.transitions.logger.Store(&logger)
	c.active.Store(true)
	defer c.active.Store(false)
	<-ctx.Done()
	return nil
}
