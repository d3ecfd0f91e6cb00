// Package reconciler runs declarative handlers over one kind of Kubernetes object, in the
// manner of kopf: a controller is a list of handlers with stable ids, each registered for a
// cause (create, update, field change, delete, resume, timer); the reconciler owns the
// typed workqueue, the finalizer, retries, per-handler progress, the Ready and Synced
// conditions, status writes and events.
//
// # Causes come from object state
//
// Which handlers run is decided from the object as it is in the informer cache, never from
// the watch event that woke the worker up:
//
//   - metadata.deletionTimestamp set and the controller's finalizer present: delete
//     handlers run; the finalizer is removed when all of them have succeeded.
//   - no last-handled annotation: create handlers run, then field handlers whose field is
//     set (their old value is nil).
//   - a last-handled annotation that differs from the object's essence: update handlers run
//     with the old and the new essence, then field handlers whose field changed.
//   - otherwise the object is at steady state: resume handlers run once per process for an
//     object that was already handled when the process first saw it, and timers run when due.
//
// The essence is the JSON of the object's fields named by Options.Essence (spec by
// default; for a CassandraDataCenter only spec.restore, so another operator's fields do
// not wake our handlers). It is stored, once every handler of a create or update cause has
// succeeded, in the annotation <name>.<domain>/last-handled. Until then the annotation
// <name>.<domain>/progress records which handlers of the cause are done (they are not
// called again) and which failed permanently (with the generation they failed at), keyed by
// a digest of the essence being handled so that a new spec starts afresh. Both annotations
// go out in one JSON merge patch of metadata, with the finalizer, guarded by the object's
// resourceVersion; the spec is never written.
//
// # Outcomes
//
// A handler returns (Result, error). A nil error with a zero Result is done; a positive
// Result.RequeueAfter means "check again after"; Temporary(err, d) retries after d;
// Permanent(err) is not retried until metadata.generation changes; any other error is
// retried with the queue's exponential rate limiter. Handlers of one cause run in
// registration order and a pass stops at the first handler that is not done, so later
// handlers may rely on earlier ones. Delays live in the workqueue (AddAfter) and in the
// process's memory: a watch event does not call a handler before its delay is over.
// Every call has a deadline (Options.HandlerTimeout, DefaultHandlerTimeout when zero): its
// context ends then, and a handler that fails because of it fails with reason
// DeadlineExceeded, so a call that hangs shows on the object instead of stalling a worker.
//
// # Status
//
// Handlers receive a deep copy of the object and may change its status: that is their
// result. After a pass the reconciler sets Synced (True/ReconcileSuccess, or
// False/ReconcileError with the failing handler's message) and observedGeneration, and
// writes the status through the status subresource with a JSON merge patch of what
// changed, only when something changed: a resync at steady state makes no API call.
// Events are recorded when Ready or Synced changes, not on every pass.
package reconciler
