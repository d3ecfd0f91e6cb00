package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/operator"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// CassDatacenterName is the name of the CassandraDatacenter controller: its queue and
// field manager.
const CassDatacenterName = "restore-cassdc"

// ReasonRestoreImmutable: the restore annotation changed after the plan was made; the
// restore goes on with the plan it has.
const ReasonRestoreImmutable = "RestoreAnnotationImmutable"

// CassDatacenters restores cass-operator's CassandraDatacenters whose restore annotation
// (cassdc.AnnotationRestoreFrom) names a backup. It plans and follows the restore with the
// restore controller's own handlers, over the datacenter's view as a CassandraDataCenter
// (cassdc.View), and writes the restore's status into cassdc.AnnotationRestoreStatus;
// events go to the CassandraDatacenter.
type CassDatacenters struct {
	planner  *Controller
	informer informers.Informer
	synced   []cache.InformerSynced
	client   dynamic.Interface
	queue    workqueue.TypedRateLimitingInterface[cache.ObjectName]

	mu sync.Mutex
	// held are restores that failed permanently or wait for a retry, by datacenter: an
	// update of the CassandraDatacenter (cass-operator writes its status often) does not
	// plan again before the time, or ever for the same restore and spec (generation). A
	// datacenter's entry goes when it is deleted.
	held map[cache.ObjectName]hold
}

type hold struct {
	uid        types.UID
	generation int64
	restore    v1alpha1.RestoreSpec
	until      time.Time // zero: until the restore changes
}

// NewCassDatacenters builds the controller from the operator's dependencies; it is off
// (nil) when the API server does not serve cass-operator's CassandraDatacenter.
func NewCassDatacenters(deps operator.Deps) (operator.Component, error) {
	if deps.Informers.CassOperatorDatacenters() == nil || deps.Dynamic == nil {
		return nil, nil
	}
	return NewCassDatacentersWithOptions(deps, Options{Storage: deps.StorageConfig(), Agents: deps.AgentClient()})
}

// NewCassDatacentersWithOptions builds the controller; call it before starting the
// informers.
func NewCassDatacentersWithOptions(deps operator.Deps, opts Options) (*CassDatacenters, error) {
	inf := deps.Informers.CassOperatorDatacenters()
	if inf == nil || deps.Dynamic == nil {
		return nil, errors.New("cass-operator's CassandraDatacenters are not watched")
	}
	c := &CassDatacenters{
		planner: newPlanner(deps, opts), informer: inf, client: deps.Dynamic, held: map[cache.ObjectName]hold{},
		synced: []cache.InformerSynced{inf.HasSynced, deps.Informers.CassandraBackups().HasSynced,
			deps.Informers.ConfigMaps().HasSynced, deps.Informers.Pods().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName](),
			workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{Name: CassDatacenterName, MetricsProvider: deps.WorkqueueMetrics()}),
	}
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingObjectToName(obj); err == nil {
			c.queue.Add(key)
		}
	}
	err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: enqueue})
	return c, err
}

// Run processes CassandraDatacenters until ctx ends.
func (c *CassDatacenters) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.worker, time.Second) })
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return nil
}

func (c *CassDatacenters) worker(ctx context.Context) {
	for c.next(ctx) {
	}
}

func (c *CassDatacenters) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	after, err := c.sync(klog.NewContext(ctx, klog.LoggerWithValues(klog.FromContext(ctx), "cassandraDatacenter", key)), key)
	switch {
	case err != nil:
		utilruntime.HandleErrorWithContext(ctx, err, "Syncing CassandraDatacenter", "key", key)
		c.queue.AddRateLimited(key)
	case after > 0:
		c.queue.Forget(key)
		c.queue.AddAfter(key, after)
	default:
		c.queue.Forget(key)
	}
	return true
}

// sync plans or follows the restore of one CassandraDatacenter and writes its status
// annotation when it changed; it returns when to look again.
func (c *CassDatacenters) sync(ctx context.Context, key cache.ObjectName) (time.Duration, error) {
	obj, ok, err := c.informer.Indexer().GetByKey(key.String())
	if err != nil || !ok {
		c.mu.Lock()
		delete(c.held, key)
		c.mu.Unlock()
		return 0, err
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return 0, nil
	}
	dc, err := cassdc.View(u)
	if err != nil {
		// A malformed spec: said once per resourceVersion by an event, never retried.
		c.planner.recorder.Event(u, corev1.EventTypeWarning, "InvalidDatacenter", err.Error())
		return 0, nil
	}
	if dc.Spec.Restore == nil && dc.Status.Restore == nil {
		return 0, nil
	}
	before, _ := cassdc.EncodeStatus(dc.Status.Restore)
	after, herr := c.handle(ctx, dc)
	status, err := cassdc.EncodeStatus(dc.Status.Restore)
	if err != nil {
		return 0, err
	}
	if status != before {
		if err := c.writeStatus(ctx, dc, status); err != nil {
			return 0, err
		}
	}
	return after, herr
}

// handle runs the restore controller's plan or progress handler on dc's view, keeping
// the plan in place when the annotation changed after it was made.
func (c *CassDatacenters) handle(ctx context.Context, dc *v1alpha1.CassandraDataCenter) (time.Duration, error) {
	ev := &dcEvent{Object: dc}
	if dc.Spec.Restore == nil {
		c.planner.unplan(dc)
		return 0, nil
	}
	immutable := ""
	if cur := c.currentPlan(dc); cur != nil && !cur.For(dc.Spec.Restore) {
		immutable = fmt.Sprintf("annotation %s changed to %q after the restore plan %s was made for backup %s: the change is refused and the restore goes on with that plan (remove the annotation and delete the plan ConfigMap to restore anew)",
			cassdc.AnnotationRestoreFrom, dc.Spec.Restore.BackupName, cur.Name, cur.Restore.BackupName)
		r := cur.Restore
		dc.Spec.Restore = &r
	}
	if until, held := c.isHeld(dc); held {
		if until.IsZero() {
			return 0, nil
		}
		return time.Until(until), nil
	}
	var res reconciler.Result
	var err error
	if st := dc.Status.Restore; st == nil || st.Plan == "" || st.BackupName != dc.Spec.Restore.BackupName {
		res, err = c.planner.plan(ctx, ev)
	} else {
		res, err = c.planner.progress(ctx, ev)
	}
	st := status(dc)
	if immutable != "" {
		if reconciler.SetCondition(&st.Conditions, reconciler.SyncedWithReason(ReasonRestoreImmutable, immutable, dc.Generation)) {
			c.planner.event(dc, corev1.EventTypeWarning, ReasonRestoreImmutable, immutable)
		}
	} else {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		reconciler.SetCondition(&st.Conditions, reconciler.SyncedWithReason(reconciler.ReasonOf(err), msg, dc.Generation))
	}
	var temp *reconciler.TemporaryError
	var perm *reconciler.PermanentError
	switch {
	case errors.As(err, &temp):
		c.hold(dc, time.Now().Add(temp.Delay))
		return temp.Delay, nil
	case errors.As(err, &perm):
		c.hold(dc, time.Time{})
		return 0, nil
	case err != nil:
		return 0, err
	case res.RequeueAfter > 0:
		return res.RequeueAfter, nil
	}
	return c.planner.opts.IdlePoll, nil
}

// currentPlan is the plan this datacenter owns, nil when none was made (or it does not
// decode: it is made again).
func (c *CassDatacenters) currentPlan(dc *v1alpha1.CassandraDataCenter) *plan.Plan {
	cm, err := c.planner.configMaps.ConfigMaps(dc.Namespace).Get(plan.ConfigMapName(dc.Name))
	if err != nil || !metav1.IsControlledBy(cm, dc) {
		return nil
	}
	p, err := plan.Decode(cm)
	if err != nil {
		return nil
	}
	return p
}

// hold keeps dc's current restore from being planned again before until (ever, when
// zero) unless its spec changes.
func (c *CassDatacenters) hold(dc *v1alpha1.CassandraDataCenter, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held[cache.NewObjectName(dc.Namespace, dc.Name)] = hold{uid: dc.UID, generation: dc.Generation, restore: *dc.Spec.Restore, until: until}
}

// isHeld reports whether dc's restore is held, and until when (zero: until it changes).
func (c *CassDatacenters) isHeld(dc *v1alpha1.CassandraDataCenter) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := cache.NewObjectName(dc.Namespace, dc.Name)
	h, ok := c.held[key]
	if !ok || h.uid != dc.UID || h.generation != dc.Generation || !equality.Semantic.DeepEqual(h.restore, *dc.Spec.Restore) || (!h.until.IsZero() && !time.Now().Before(h.until)) {
		delete(c.held, key)
		return time.Time{}, false
	}
	return h.until, true
}

// writeStatus writes the status annotation ("" removes it) with a merge patch of that one
// annotation: cass-operator's fields are left alone.
func (c *CassDatacenters) writeStatus(ctx context.Context, dc *v1alpha1.CassandraDataCenter, status string) error {
	var value any
	if status != "" {
		value = status
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{cassdc.AnnotationRestoreStatus: value}}})
	if err != nil {
		return err
	}
	_, err = c.client.Resource(cassdc.GVR).Namespace(dc.Namespace).Patch(ctx, dc.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: "cassandra-backup-operator/" + CassDatacenterName})
	if err != nil {
		return fmt.Errorf("write restore status of %s %s/%s: %w", cassdc.Kind, dc.Namespace, dc.Name, err)
	}
	if dc.Status.Restore != nil {
		klog.FromContext(ctx).V(2).Info("Restore state changed", "state", dc.Status.Restore.State)
	}
	return nil
}
