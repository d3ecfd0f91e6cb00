package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// DefaultDomain prefixes the finalizer and the annotations the reconciler writes.
const DefaultDomain = "cassandraoperator.instaclustr.com"

// Informer is the part of a shared informer the reconciler needs.
type Informer interface {
	// AddEventHandler registers a handler for adds, updates and deletes.
	AddEventHandler(cache.ResourceEventHandler) error
	// HasSynced reports whether the initial list has been delivered.
	HasSynced() bool
}

// Patcher writes objects of one kind in one namespace; a generated typed client
// (client.CassandraoperatorV1alpha1().CassandraBackups(ns)) is one.
type Patcher[T Object] interface {
	// Patch applies a patch to the named object or to its subresource.
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// Options configure a Controller. Name, Informer, Get and Client are required.
type Options[T Object] struct {
	// Name names the controller: its queue (and queue metrics), field manager, finalizer
	// (<domain>/<name>) and annotations (<name>.<domain>/...). Keep it stable.
	Name string
	// Domain prefixes the finalizer and annotations; DefaultDomain when empty.
	Domain string
	// Informer delivers the objects' events.
	Informer Informer
	// Get reads an object from the informer cache, as a generated lister's
	// Namespace(ns).Get(name) does; a NotFound error means the object is gone.
	Get func(namespace, name string) (T, error)
	// Client returns the client that patches objects in a namespace.
	Client func(namespace string) Patcher[T]
	// Conditions points at the object's conditions; nil (or a nil result) means the
	// object has none and the reconciler sets no Ready or Synced.
	Conditions func(obj T) *[]metav1.Condition
	// ObservedGeneration points at the object's status.observedGeneration; may be nil.
	ObservedGeneration func(obj T) *int64
	// Essence lists the dotted paths whose change is an update; {"spec"} when empty.
	Essence []string
	// Filter, when set, leaves alone objects it rejects unless they carry the
	// controller's finalizer or last-handled annotation.
	Filter func(obj T) bool
	// Handlers are the controller's handlers.
	Handlers []Registration[T]
	// Recorder records events; none when nil.
	Recorder record.EventRecorder
	// Metrics counts handler calls, passes and writes; none when nil.
	Metrics *Metrics
	// QueueMetrics exports the queue's metrics; none when nil.
	QueueMetrics workqueue.MetricsProvider
	// RateLimiter spaces retries of errors that are neither temporary nor permanent;
	// workqueue.DefaultTypedControllerRateLimiter when nil.
	RateLimiter workqueue.TypedRateLimiter[cache.ObjectName]
	// StaleRetry is how long to wait before looking again at an object whose cached copy
	// is older than the reconciler's last write; 1s when zero.
	StaleRetry time.Duration
	// Clock tells the time; the real clock when nil.
	Clock clock.WithTicker
	// HandlerTimeout bounds each handler call: its context ends after it, and a handler
	// that fails because of it fails with reason DeadlineExceeded. DefaultHandlerTimeout
	// when zero; no bound when negative.
	HandlerTimeout time.Duration
}

// DefaultHandlerTimeout bounds a handler call when Options.HandlerTimeout is zero: long
// enough for a few storage round trips and agent calls, short enough that a hung endpoint
// shows as a condition within minutes, not never.
const DefaultHandlerTimeout = 2 * time.Minute

// ReasonDeadlineExceeded is the reason of the Synced condition of a handler that ran out
// of its HandlerTimeout.
const ReasonDeadlineExceeded = "DeadlineExceeded"

// Controller runs the handlers of one kind of object.
type Controller[T Object] struct {
	name       string
	finalizer  string
	lastKey    string
	progKey    string
	opts       Options[T]
	regs       map[Cause][]Registration[T]
	queue      workqueue.TypedRateLimitingInterface[cache.ObjectName]
	limiter    workqueue.TypedRateLimiter[cache.ObjectName]
	clock      clock.WithTicker
	fieldOwner string

	mu    sync.Mutex
	state map[cache.ObjectName]*memory
}

// memory is what the process remembers about one object between passes.
type memory struct {
	// resume is true until the resume handlers have run, for objects first seen handled.
	resume bool
	// resumed holds the resume handlers done in this process.
	resumed map[string]bool
	// notBefore holds, per handler id, the earliest time of its next call.
	notBefore map[string]time.Time
	// retries counts failed calls per handler id, for the current cause.
	retries map[string]int
	// failing holds, per handler id, its last failure while it is retried.
	failing map[string]failure
	// cause is the digest the retries belong to.
	cause string
	// timerDue holds the next call time of each timer.
	timerDue map[string]time.Time
	// timerFailed holds the generation a timer failed permanently at.
	timerFailed map[string]int64
	// written is the resourceVersion of the reconciler's last write.
	written string
}

// New checks opts and creates the controller; it registers its event handler on
// opts.Informer, so create controllers before starting the informers.
func New[T Object](opts Options[T]) (*Controller[T], error) {
	if opts.Name == "" || opts.Informer == nil || opts.Get == nil || opts.Client == nil {
		return nil, errors.New("reconciler options need Name, Informer, Get and Client")
	}
	if err := validate(opts.Handlers); err != nil {
		return nil, fmt.Errorf("controller %s: %w", opts.Name, err)
	}
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if len(opts.Essence) == 0 {
		opts.Essence = []string{"spec"}
	}
	for _, r := range opts.Handlers {
		if r.Cause == Field && fieldValueRoot(opts.Essence, r.Path) == "" {
			return nil, fmt.Errorf("controller %s: field handler %q watches %s, outside the essence %v", opts.Name, r.ID, r.Path, opts.Essence)
		}
	}
	if opts.StaleRetry == 0 {
		opts.StaleRetry = time.Second
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	limiter := opts.RateLimiter
	if limiter == nil {
		limiter = workqueue.DefaultTypedControllerRateLimiter[cache.ObjectName]()
	}
	c := &Controller[T]{
		name:       opts.Name,
		finalizer:  opts.Domain + "/" + opts.Name,
		lastKey:    opts.Name + "." + opts.Domain + "/last-handled",
		progKey:    opts.Name + "." + opts.Domain + "/progress",
		opts:       opts,
		regs:       map[Cause][]Registration[T]{},
		limiter:    limiter,
		clock:      opts.Clock,
		fieldOwner: "cassandra-backup-operator/" + opts.Name,
		state:      map[cache.ObjectName]*memory{},
	}
	for _, r := range opts.Handlers {
		c.regs[r.Cause] = append(c.regs[r.Cause], r)
	}
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[cache.ObjectName]{
		Name:            opts.Name,
		MetricsProvider: opts.QueueMetrics,
		Clock:           opts.Clock,
	})
	err := opts.Informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("controller %s: add event handler: %w", opts.Name, err)
	}
	return c, nil
}

// fieldValueRoot returns the essence path that contains path, or "".
func fieldValueRoot(essence []string, path string) string {
	for _, root := range essence {
		if path == root || strings.HasPrefix(path, root+".") {
			return root
		}
	}
	return ""
}

// Name returns the controller's name.
func (c *Controller[T]) Name() string { return c.name }

// Finalizer returns the finalizer the controller puts on objects that need it.
func (c *Controller[T]) Finalizer() string { return c.finalizer }

// needsFinalizer reports whether a non-optional delete handler exists.
func (c *Controller[T]) needsFinalizer() bool {
	for _, r := range c.regs[Delete] {
		if !r.Optional {
			return true
		}
	}
	return false
}

func (c *Controller[T]) enqueue(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	name, err := cache.ObjectToName(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("controller %s: %w", c.name, err))
		return
	}
	c.queue.Add(name)
}

// Run waits for the informer to sync, runs workers until ctx ends, then stops taking
// new work and waits for the items in flight to finish. Handlers in flight keep a
// context that is not cancelled, so they finish their step.
func (c *Controller[T]) Run(ctx context.Context, workers int) error {
	logger := klog.FromContext(ctx).WithValues("controller", c.name)
	ctx = klog.NewContext(ctx, logger)
	if workers < 1 {
		workers = 1
	}
	logger.Info("Waiting for the informer cache to sync")
	if !cache.WaitForCacheSync(ctx.Done(), c.opts.Informer.HasSynced) {
		c.queue.ShutDown()
		logger.Info("Stopped before the cache synced")
		return nil
	}
	logger.Info("Starting workers", "count", workers)
	work := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c.processNext(work) {
			}
		})
	}
	<-ctx.Done()
	logger.Info("Shutting down: draining work in flight")
	c.queue.ShutDownWithDrain()
	wg.Wait()
	logger.Info("Workers stopped")
	return nil
}

// processNext handles one key; false means the queue is shut down.
func (c *Controller[T]) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	after, err := c.sync(ctx, key)
	switch {
	case err != nil:
		d := c.limiter.When(key)
		c.noteFailure(key, d)
		c.queue.AddAfter(key, d)
		utilruntime.HandleErrorWithContext(ctx, err, "Reconcile failed, retrying", "controller", c.name, "object", key, "after", d)
	default:
		c.limiter.Forget(key)
		if after > 0 {
			c.queue.AddAfter(key, after)
		}
	}
	return true
}

// Sync runs one reconciliation pass for key, for tests and tools; the workers call it too.
// It returns when to look at the object again (0: not before an event) and an error to be
// retried with the rate limiter.
func (c *Controller[T]) Sync(ctx context.Context, key cache.ObjectName) (time.Duration, error) {
	return c.sync(ctx, key)
}

// memoryFor returns the process memory of key, creating it.
func (c *Controller[T]) memoryFor(key cache.ObjectName, handledBefore bool) *memory {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.state[key]
	if m == nil {
		m = &memory{
			resume:      handledBefore,
			resumed:     map[string]bool{},
			notBefore:   map[string]time.Time{},
			retries:     map[string]int{},
			timerDue:    map[string]time.Time{},
			timerFailed: map[string]int64{},
			failing:     map[string]failure{},
		}
		c.state[key] = m
	}
	return m
}

func (c *Controller[T]) forget(key cache.ObjectName) {
	c.mu.Lock()
	delete(c.state, key)
	c.mu.Unlock()
}

// noteFailure keeps the handler that failed from being called before the rate limiter's delay.
func (c *Controller[T]) noteFailure(key cache.ObjectName, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.state[key]; m != nil {
		for id, t := range m.notBefore {
			if t.IsZero() {
				m.notBefore[id] = c.clock.Now().Add(d)
			}
		}
	}
}
