package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// deleteDigest keys the progress of delete handlers.
const deleteDigest = "delete"

// step is one handler call to make, with its old and new values.
type step[T Object] struct {
	reg      Registration[T]
	old, new any
}

// stepsState is how far a list of steps got.
type stepsState int

const (
	finished stepsState = iota
	pending
	failed
)

// pass is one reconciliation of one object.
type pass[T Object] struct {
	c      *Controller[T]
	key    cache.ObjectName
	mem    *memory
	orig   T // as last read from the cache or returned by our last write
	obj    T // working copy handed to handlers
	now    time.Time
	gen    int64
	after  time.Duration
	err    error
	failed map[string]failure // handler id → failure, for Synced

	annotations map[string]*string // annotation changes: nil value deletes
	finalizers  []string           // new finalizer list when changed
	finChanged  bool
}

func (p *pass[T]) requeue(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if p.after == 0 || d < p.after {
		p.after = d
	}
}

func (p *pass[T]) setAnnotation(k string, v *string) {
	cur, ok := p.orig.GetAnnotations()[k]
	if (v == nil && !ok) || (v != nil && ok && cur == *v) {
		delete(p.annotations, k)
		return
	}
	p.annotations[k] = v
}

func (c *Controller[T]) sync(ctx context.Context, key cache.ObjectName) (time.Duration, error) {
	logger := klog.FromContext(ctx).WithValues("object", klog.KRef(key.Namespace, key.Name))
	ctx = klog.NewContext(ctx, logger)
	cached, err := c.opts.Get(key.Namespace, key.Name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		c.opts.Metrics.pass(c.name, "gone")
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get %s from the cache: %w", key, err)
	}
	last, handled := cached.GetAnnotations()[c.lastKey]
	hasFin := slices.Contains(cached.GetFinalizers(), c.finalizer)
	if c.opts.Filter != nil && !hasFin && !handled && !c.opts.Filter(cached) {
		return 0, nil
	}
	mem := c.memoryFor(key, handled)
	if mem.written != "" && olderThan(cached.GetResourceVersion(), mem.written) {
		c.opts.Metrics.pass(c.name, "stale")
		return c.opts.StaleRetry, nil
	}
	p := &pass[T]{
		c: c, key: key, mem: mem, orig: cached, obj: cached.DeepCopyObject().(T),
		now: c.clock.Now(), gen: cached.GetGeneration(),
		failed: map[string]failure{}, annotations: map[string]*string{},
	}
	if cached.GetDeletionTimestamp() != nil {
		if !hasFin {
			return 0, nil
		}
		err = c.deleting(ctx, p)
	} else {
		err = c.living(ctx, p, handled, last, hasFin)
	}
	if err != nil {
		c.opts.Metrics.pass(c.name, "error")
		return 0, err
	}
	if p.err != nil {
		c.opts.Metrics.pass(c.name, "error")
		return 0, p.err
	}
	c.opts.Metrics.pass(c.name, "ok")
	return p.remaining(), nil
}

// remaining is the pass's requeue delay from now: handlers' delays and timers count from
// the pass's start (p.now), and the handlers and writes took time, so the queue must not
// add that time again (under a fast-moving fake clock it could push a timer due at a
// schedule's slot minutes past it). At least a millisecond, as requeue keeps it.
func (p *pass[T]) remaining() time.Duration {
	if p.after <= 0 {
		return p.after
	}
	return max(p.after-p.c.clock.Since(p.now), time.Millisecond)
}

// deleting runs the delete handlers and removes the finalizer when they all succeeded.
func (c *Controller[T]) deleting(ctx context.Context, p *pass[T]) error {
	if conds := c.conditions(p.obj); conds != nil {
		SetCondition(conds, Ready(false, ReasonDeleting, "delete handlers are running", p.gen))
	}
	prog := parseProgress(p.orig.GetAnnotations()[c.progKey])
	if prog.Digest != deleteDigest {
		prog = progress{Digest: deleteDigest}
	}
	var steps []step[T]
	for _, r := range c.regs[Delete] {
		steps = append(steps, step[T]{reg: r})
	}
	state, changed := c.runSteps(ctx, p, steps, &prog)
	if state == finished {
		p.finalizers = slices.DeleteFunc(slices.Clone(p.orig.GetFinalizers()), func(f string) bool { return f == c.finalizer })
		p.finChanged = true
		p.setAnnotation(c.progKey, nil)
		// The object may vanish with its last finalizer: then its status is not worth a
		// write; otherwise write the status first.
		if len(p.finalizers) > 0 {
			if err := c.writeStatus(ctx, p); err != nil {
				return err
			}
		}
		return c.writeMetadata(ctx, p)
	}
	if changed {
		enc := prog.encode()
		p.setAnnotation(c.progKey, &enc)
	}
	return c.finish(ctx, p)
}

// living adds or removes the finalizer, runs the create or update cause, then resume
// handlers and timers.
func (c *Controller[T]) living(ctx context.Context, p *pass[T], handled bool, last string, hasFin bool) error {
	need := c.needsFinalizer()
	if need && !hasFin {
		p.finalizers = append(slices.Clone(p.orig.GetFinalizers()), c.finalizer)
		p.finChanged = true
		// Before any handler reaches the outside world, so a deletion waits for the delete handlers.
		if err := c.writeMetadata(ctx, p); err != nil {
			return err
		}
	} else if !need && hasFin {
		p.finalizers = slices.DeleteFunc(slices.Clone(p.orig.GetFinalizers()), func(f string) bool { return f == c.finalizer })
		p.finChanged = true
	}

	doc, err := toDocument(p.orig)
	if err != nil {
		return fmt.Errorf("read %s: %w", p.key, err)
	}
	ess := essence(doc, c.opts.Essence)
	essJSON := encodeEssence(ess)
	var steps []step[T]
	var cause Cause
	lastEss, readable := decodeEssence(last)
	switch {
	case !handled || !readable:
		cause = Create
		for _, r := range c.regs[Create] {
			steps = append(steps, step[T]{reg: r, new: ess})
		}
		for _, r := range c.regs[Field] {
			if v := fieldValue(ess, r.Path); v != nil {
				steps = append(steps, step[T]{reg: r, new: v})
			}
		}
	case encodeEssence(lastEss) != essJSON:
		cause = Update
		for _, r := range c.regs[Update] {
			steps = append(steps, step[T]{reg: r, old: lastEss, new: ess})
		}
		for _, r := range c.regs[Field] {
			o, n := fieldValue(lastEss, r.Path), fieldValue(ess, r.Path)
			if !equal(o, n) {
				steps = append(steps, step[T]{reg: r, old: o, new: n})
			}
		}
	}
	if cause != "" {
		prog := parseProgress(p.orig.GetAnnotations()[c.progKey])
		if d := digest(essJSON); prog.Digest != d {
			prog = progress{Digest: d}
		}
		state, changed := c.runSteps(ctx, p, steps, &prog)
		if state != finished {
			if changed {
				enc := prog.encode()
				p.setAnnotation(c.progKey, &enc)
			}
			return c.finish(ctx, p)
		}
		p.setAnnotation(c.lastKey, &essJSON)
		p.setAnnotation(c.progKey, nil)
		p.mem.resume = false
	}
	c.steady(ctx, p)
	return c.finish(ctx, p)
}

// steady runs the resume handlers once per process, then the timers that are due.
func (c *Controller[T]) steady(ctx context.Context, p *pass[T]) {
	m := p.mem
	if m.resume {
		var steps []step[T]
		for _, r := range c.regs[Resume] {
			if !m.resumed[r.ID] {
				steps = append(steps, step[T]{reg: r})
			}
		}
		prog := progress{Digest: "resume", Handlers: map[string]handlerRecord{}}
		for id := range m.resumed {
			prog.Handlers[id] = handlerRecord{Done: true}
		}
		state, _ := c.runSteps(ctx, p, steps, &prog)
		for id, r := range prog.Handlers {
			if r.Done {
				m.resumed[id] = true
			}
		}
		if state != finished {
			return
		}
		m.resume = false
	}
	for _, r := range c.regs[Timer] {
		id := r.ID
		if g, ok := m.timerFailed[id]; ok {
			if g == p.gen {
				p.failed[id] = m.failing[id]
				continue
			}
			delete(m.timerFailed, id)
		}
		due, ok := m.timerDue[id]
		if !ok {
			due = p.now
		}
		if nb, ok := m.notBefore[id]; ok && nb.After(due) {
			due = nb
		}
		if p.now.Before(due) {
			p.requeue(due.Sub(p.now))
			continue
		}
		res, err := c.call(ctx, p, &Event[T]{Cause: Timer, HandlerID: id, Object: p.obj, Retry: m.retries[id]}, r)
		next := r.Interval
		switch classify(res, err) {
		case "done":
			c.succeeded(p, id)
		case "requeue":
			c.succeeded(p, id)
			next = res.RequeueAfter
		case "temporary":
			next = c.temporary(p, id, err)
		case "permanent":
			m.timerFailed[id] = p.gen
			c.permanent(p, id, err)
			continue
		default:
			c.other(p, id, err)
			delete(m.timerDue, id)
			continue
		}
		m.timerDue[id] = p.now.Add(next)
		p.requeue(next)
	}
}

// runSteps calls the steps in order until one is not done. It returns how far it got and
// whether prog changed.
func (c *Controller[T]) runSteps(ctx context.Context, p *pass[T], steps []step[T], prog *progress) (stepsState, bool) {
	m := p.mem
	if m.cause != prog.Digest {
		m.cause = prog.Digest
		clear(m.retries)
		clear(m.failing)
		for _, s := range steps {
			delete(m.notBefore, s.reg.ID)
		}
	}
	if prog.Handlers == nil {
		prog.Handlers = map[string]handlerRecord{}
	}
	changed := false
	for _, s := range steps {
		id := s.reg.ID
		rec := prog.Handlers[id]
		if rec.Done {
			continue
		}
		if rec.Failed {
			if rec.Generation == p.gen {
				p.failed[id] = failure{Reason: rec.Reason, Message: rec.Message}
				return failed, changed
			}
			delete(prog.Handlers, id)
			changed = true
		}
		if nb, ok := m.notBefore[id]; ok {
			if p.now.Before(nb) {
				if f, ok := m.failing[id]; ok {
					p.failed[id] = f
				}
				p.requeue(nb.Sub(p.now))
				return pending, changed
			}
		}
		ev := &Event[T]{Cause: s.reg.Cause, HandlerID: id, Object: p.obj, Old: s.old, New: s.new, Retry: m.retries[id]}
		res, err := c.call(ctx, p, ev, s.reg)
		switch classify(res, err) {
		case "done":
			c.succeeded(p, id)
			prog.Handlers[id] = handlerRecord{Done: true}
			changed = true
			continue
		case "requeue":
			c.succeeded(p, id)
			m.notBefore[id] = p.now.Add(res.RequeueAfter)
			p.requeue(res.RequeueAfter)
			return pending, changed
		case "temporary":
			m.notBefore[id] = p.now.Add(c.temporary(p, id, err))
			return pending, changed
		case "permanent":
			f := c.permanent(p, id, err)
			prog.Handlers[id] = handlerRecord{Failed: true, Generation: p.gen, Message: f.Message, Reason: f.Reason}
			return failed, true
		default:
			c.other(p, id, err)
			return pending, changed
		}
	}
	return finished, changed
}

// call runs a handler, turning a panic into an error and counting the call.
func (c *Controller[T]) call(ctx context.Context, p *pass[T], ev *Event[T], r Registration[T]) (res Result, err error) {
	logger := klog.FromContext(ctx).WithValues("handler", r.ID, "cause", ev.Cause)
	start := c.clock.Now()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panicked: %v", v)
		}
		outcome := classify(res, err)
		c.opts.Metrics.call(c.name, r.ID, outcome, c.clock.Since(start).Seconds())
		logger.V(2).Info("Handler returned", "outcome", outcome, "err", err, "requeueAfter", res.RequeueAfter)
	}()
	ctx = klog.NewContext(ctx, logger)
	if d := c.handlerTimeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errHandlerDeadline)
		defer cancel()
		defer func() {
			if err != nil && context.Cause(ctx) == errHandlerDeadline {
				var re *ReasonedError
				if !errors.As(err, &re) {
					err = WithReason(ReasonDeadlineExceeded, fmt.Errorf("handler %s did not finish within %s: %w", r.ID, d, err))
				}
			}
		}()
	}
	return r.Handler.Handle(ctx, ev)
}

// errHandlerDeadline is the cause of a handler context that ran out of HandlerTimeout.
var errHandlerDeadline = errors.New("handler deadline exceeded")

// handlerTimeout is Options.HandlerTimeout with its default.
func (c *Controller[T]) handlerTimeout() time.Duration {
	switch d := c.opts.HandlerTimeout; {
	case d == 0:
		return DefaultHandlerTimeout
	case d < 0:
		return 0
	default:
		return d
	}
}

func (c *Controller[T]) succeeded(p *pass[T], id string) {
	delete(p.mem.retries, id)
	delete(p.mem.failing, id)
	delete(p.mem.notBefore, id)
}

func (c *Controller[T]) temporary(p *pass[T], id string, err error) time.Duration {
	var tmp *TemporaryError
	errors.As(err, &tmp)
	d := tmp.Delay
	if d <= 0 {
		d = time.Second
	}
	p.mem.retries[id]++
	p.mem.setFailing(id, failure{Reason: ReasonOf(err), Message: fmt.Sprintf("handler %s: %v", id, err)})
	p.failed[id] = p.mem.failing[id]
	p.requeue(d)
	return d
}

func (c *Controller[T]) permanent(p *pass[T], id string, err error) failure {
	f := failure{Reason: ReasonOf(err), Message: fmt.Sprintf("handler %s failed permanently: %v", id, err)}
	p.mem.setFailing(id, f)
	delete(p.mem.notBefore, id)
	p.failed[id] = f
	return f
}

func (c *Controller[T]) other(p *pass[T], id string, err error) {
	p.mem.retries[id]++
	p.mem.setFailing(id, failure{Reason: ReasonOf(err), Message: fmt.Sprintf("handler %s: %v", id, err)})
	p.failed[id] = p.mem.failing[id]
	// The zero time is filled with the rate limiter's delay by processNext.
	p.mem.notBefore[id] = time.Time{}
	p.err = fmt.Errorf("handler %s: %w", id, err)
}

// failure is a handler's failure as Synced reports it.
type failure struct {
	// Reason is the failure's reason (WithReason); empty means ReconcileError.
	Reason string
	// Message names the handler and the error.
	Message string
}

func (m *memory) setFailing(id string, f failure) {
	if m.failing == nil {
		m.failing = map[string]failure{}
	}
	m.failing[id] = f
}

// conditions returns the object's conditions, or nil.
func (c *Controller[T]) conditions(obj T) *[]metav1.Condition {
	if c.opts.Conditions == nil {
		return nil
	}
	return c.opts.Conditions(obj)
}

// finish sets Synced and observedGeneration, then writes metadata and status if they changed.
func (c *Controller[T]) finish(ctx context.Context, p *pass[T]) error {
	if err := c.writeMetadata(ctx, p); err != nil {
		return err
	}
	return c.writeStatus(ctx, p)
}

// syncFailure joins the failures of this pass, sorted by handler id; the reason is the
// first failure's that has one.
func (p *pass[T]) syncFailure() (reason, message string) {
	ids := make([]string, 0, len(p.failed))
	for id := range p.failed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	msgs := make([]string, len(ids))
	for i, id := range ids {
		f := p.failed[id]
		msgs[i] = f.Message
		if reason == "" {
			reason = f.Reason
		}
	}
	return reason, strings.Join(msgs, "; ")
}

// writeMetadata patches the finalizers and annotations when they changed.
func (c *Controller[T]) writeMetadata(ctx context.Context, p *pass[T]) error {
	if !p.finChanged && len(p.annotations) == 0 {
		return nil
	}
	md := map[string]any{}
	if rv := p.orig.GetResourceVersion(); rv != "" {
		md["resourceVersion"] = rv
	}
	if len(p.annotations) > 0 {
		md["annotations"] = p.annotations
	}
	if p.finChanged {
		fins := p.finalizers
		if fins == nil {
			fins = []string{}
		}
		md["finalizers"] = fins
	}
	data, err := json.Marshal(map[string]any{"metadata": md})
	if err != nil {
		return fmt.Errorf("encode metadata patch of %s: %w", p.key, err)
	}
	out, err := c.opts.Client(p.key.Namespace).Patch(ctx, p.key.Name, types.MergePatchType, data, metav1.PatchOptions{FieldManager: c.fieldOwner})
	c.opts.Metrics.write(c.name, "metadata")
	if err != nil {
		return fmt.Errorf("patch metadata of %s: %w", p.key, err)
	}
	p.annotations = map[string]*string{}
	p.finChanged = false
	c.adopt(p, out)
	return nil
}

// adopt makes out, just returned by a write, the base of the pass: its metadata and
// status replace the working copy's, keeping the status changes handlers made.
func (c *Controller[T]) adopt(p *pass[T], out T) {
	p.mem.written = out.GetResourceVersion()
	work := out.DeepCopyObject().(T)
	p.orig = out
	// Carry the handlers' status over to the fresh object whole: decoded into a zero
	// object, never into out's, whose fields (and list elements) a handler cleared to
	// their omitted zero values would otherwise survive.
	b, err1 := json.Marshal(p.obj)
	o, err2 := json.Marshal(out)
	var st struct {
		Status json.RawMessage `json:"status"`
	}
	var doc map[string]json.RawMessage
	if err1 == nil && err2 == nil && json.Unmarshal(b, &st) == nil && len(st.Status) > 0 && json.Unmarshal(o, &doc) == nil {
		doc["status"] = st.Status
		fresh := reflect.New(reflect.TypeOf(out).Elem()).Interface().(T)
		if raw, err := json.Marshal(doc); err == nil && json.Unmarshal(raw, fresh) == nil {
			work = fresh
		}
	}
	p.obj = work
}

// writeStatus sets Synced and observedGeneration and patches the status subresource
// with what changed, if anything did.
func (c *Controller[T]) writeStatus(ctx context.Context, p *pass[T]) error {
	conds := c.conditions(p.obj)
	if conds != nil {
		reason, msg := p.syncFailure()
		SetCondition(conds, SyncedWithReason(reason, msg, p.gen))
	}
	if c.opts.ObservedGeneration != nil {
		if og := c.opts.ObservedGeneration(p.obj); og != nil {
			*og = p.gen
		}
	}
	before, err := statusJSON(p.orig)
	if err != nil {
		return fmt.Errorf("status of %s: %w", p.key, err)
	}
	after, err := statusJSON(p.obj)
	if err != nil {
		return fmt.Errorf("status of %s: %w", p.key, err)
	}
	patch, err := jsonpatch.CreateMergePatch(before, after)
	if err != nil {
		return fmt.Errorf("diff status of %s: %w", p.key, err)
	}
	if string(patch) == "{}" {
		return nil
	}
	var diff map[string]any
	if err := json.Unmarshal(patch, &diff); err != nil {
		return fmt.Errorf("diff status of %s: %w", p.key, err)
	}
	if rv := p.orig.GetResourceVersion(); rv != "" {
		diff["metadata"] = map[string]any{"resourceVersion": rv}
	}
	data, err := json.Marshal(diff)
	if err != nil {
		return fmt.Errorf("encode status patch of %s: %w", p.key, err)
	}
	var beforeConds []metav1.Condition
	if bc := c.conditions(p.orig.DeepCopyObject().(T)); bc != nil {
		beforeConds = *bc
	}
	out, err := c.opts.Client(p.key.Namespace).Patch(ctx, p.key.Name, types.MergePatchType, data, metav1.PatchOptions{FieldManager: c.fieldOwner}, "status")
	c.opts.Metrics.write(c.name, "status")
	if err != nil {
		return fmt.Errorf("patch status of %s: %w", p.key, err)
	}
	if conds != nil {
		c.emit(p.obj, transitions(beforeConds, *conds))
	}
	c.adopt(p, out)
	return nil
}

// statusJSON returns {"status": ...} of obj.
func statusJSON(obj any) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var st struct {
		Status json.RawMessage `json:"status,omitempty"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	if len(st.Status) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]json.RawMessage{"status": st.Status})
}

// progressing reports a False condition that is normal progress, not a problem: Ready
// while the thing is being made or deleted.
func progressing(c metav1.Condition) bool {
	return c.Type == TypeReady && (c.Reason == ReasonCreating || c.Reason == ReasonDeleting)
}

// emit records one event per condition transition: Normal for progress, Warning for
// a problem.
func (c *Controller[T]) emit(obj T, changes []metav1.Condition) {
	if c.opts.Recorder == nil {
		return
	}
	for _, t := range changes {
		typ := corev1.EventTypeNormal
		if t.Status != metav1.ConditionTrue && !progressing(t) {
			typ = corev1.EventTypeWarning
		}
		msg := t.Message
		if msg == "" {
			msg = fmt.Sprintf("%s is %s", t.Type, t.Status)
		}
		c.opts.Recorder.Event(obj, typ, t.Reason, msg)
	}
}
