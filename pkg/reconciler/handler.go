package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object is a Kubernetes object the reconciler can handle: a pointer to a generated type.
type Object interface {
	metav1.Object
	runtime.Object
}

// Cause is why a handler is called.
type Cause string

const (
	// Create is the first handling of an object.
	Create Cause = "create"
	// Update is a change of the object's essence since it was last handled.
	Update Cause = "update"
	// Field is a change of one field since the object was last handled (or its first
	// handling, when the field is set).
	Field Cause = "field"
	// Delete is the deletion of an object that carries the controller's finalizer.
	Delete Cause = "delete"
	// Resume is the first sight, in this process, of an object handled before.
	Resume Cause = "resume"
	// Timer is a periodic call while the object exists and is not being deleted.
	Timer Cause = "timer"
)

// Event is what a handler is called with.
type Event[T Object] struct {
	// Cause is why the handler is called.
	Cause Cause
	// HandlerID is the id of the handler being called.
	HandlerID string
	// Object is a deep copy of the object; changes to its status are written after the pass.
	Object T
	// Old is, for an update, the essence last handled and, for a field change, the field's
	// previous value (nil on creation). Values are decoded JSON (map[string]any, []any,
	// string, float64, bool or nil).
	Old any
	// New is, for an update, the current essence and, for a field change, the field's
	// current value.
	New any
	// Retry counts the previous failed calls of this handler for this cause in this process.
	Retry int
}

// Result is a handler's outcome when it returns no error.
type Result struct {
	// RequeueAfter, when positive, means the handler is not done: call it again after this long.
	RequeueAfter time.Duration
}

// Handler handles one cause of one object.
type Handler[T Object] interface {
	// Handle does the work; see Result, Temporary and Permanent for the outcomes.
	Handle(ctx context.Context, ev *Event[T]) (Result, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc[T Object] func(ctx context.Context, ev *Event[T]) (Result, error)

// Handle calls f.
func (f HandlerFunc[T]) Handle(ctx context.Context, ev *Event[T]) (Result, error) {
	return f(ctx, ev)
}

// Registration binds a handler with a stable id to a cause.
type Registration[T Object] struct {
	// ID names the handler; it keys the handler's progress, so keep it stable.
	ID string
	// Cause is when the handler runs.
	Cause Cause
	// Path is, for a Field handler, the dotted path of the field, as in spec.storageLocation.
	Path string
	// Interval is, for a Timer, the time between the end of one call and the next.
	Interval time.Duration
	// Optional, for a Delete handler, means the handler does not need a finalizer: it runs
	// only while another delete handler keeps the object.
	Optional bool
	// Handler does the work.
	Handler Handler[T]
}

// AsOptional returns r marked optional (see Registration.Optional).
func (r Registration[T]) AsOptional() Registration[T] {
	r.Optional = true
	return r
}

// OnCreate registers fn for the first handling of each object.
func OnCreate[T Object](id string, fn HandlerFunc[T]) Registration[T] {
	return Registration[T]{ID: id, Cause: Create, Handler: fn}
}

// OnUpdate registers fn for changes of the essence after the first handling.
func OnUpdate[T Object](id string, fn HandlerFunc[T]) Registration[T] {
	return Registration[T]{ID: id, Cause: Update, Handler: fn}
}

// OnField registers fn for changes of the field at path (dotted, as in spec.snapshotTag).
// The path must lie inside the essence.
func OnField[T Object](id, path string, fn HandlerFunc[T]) Registration[T] {
	return Registration[T]{ID: id, Cause: Field, Path: path, Handler: fn}
}

// OnDelete registers fn for the deletion of each object; it adds the finalizer.
func OnDelete[T Object](id string, fn HandlerFunc[T]) Registration[T] {
	return Registration[T]{ID: id, Cause: Delete, Handler: fn}
}

// OnResume registers fn for the first sight, in this process, of an object handled before.
func OnResume[T Object](id string, fn HandlerFunc[T]) Registration[T] {
	return Registration[T]{ID: id, Cause: Resume, Handler: fn}
}

// Every registers fn as a timer called every interval while the object is not being deleted.
func Every[T Object](id string, interval time.Duration, fn HandlerFunc[T]) Registration[T] {
	return Registration[T]{ID: id, Cause: Timer, Interval: interval, Handler: fn}
}

// TemporaryError is a failure that is retried after Delay.
type TemporaryError struct {
	// Err is the failure.
	Err error
	// Delay is how long to wait before the next call.
	Delay time.Duration
}

func (e *TemporaryError) Error() string { return e.Err.Error() }
func (e *TemporaryError) Unwrap() error { return e.Err }

// Temporary wraps err so the handler is called again after delay.
func Temporary(err error, delay time.Duration) error {
	return &TemporaryError{Err: err, Delay: delay}
}

// PermanentError is a failure that is not retried until the object's generation changes.
type PermanentError struct {
	// Err is the failure.
	Err error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the handler is not called again until metadata.generation changes.
func Permanent(err error) error {
	return &PermanentError{Err: err}
}

// ReasonedError is a failure with the reason its condition carries, as in
// crossplane-runtime's errors with reasons: the Synced condition of a failed
// reconciliation takes it instead of ReconcileError, and the message stays free of it.
type ReasonedError struct {
	// Reason is a CamelCase condition reason, such as SecretNotFound.
	Reason string
	// Err is the failure.
	Err error
}

func (e *ReasonedError) Error() string { return e.Err.Error() }
func (e *ReasonedError) Unwrap() error { return e.Err }

// WithReason wraps err so that the condition it fails carries reason. It composes with
// Temporary and Permanent: Temporary(WithReason(r, err), d).
func WithReason(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &ReasonedError{Reason: reason, Err: err}
}

// Reasonf is WithReason over fmt.Errorf(format, args...).
func Reasonf(reason, format string, args ...any) error {
	return WithReason(reason, fmt.Errorf(format, args...))
}

// ReasonOf returns the reason err carries (see WithReason), or "".
func ReasonOf(err error) string {
	var r *ReasonedError
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// validate checks a controller's registrations.
func validate[T Object](regs []Registration[T]) error {
	ids := map[string]bool{}
	for _, r := range regs {
		if r.ID == "" {
			return fmt.Errorf("a %s handler has no id", r.Cause)
		}
		if ids[r.ID] {
			return fmt.Errorf("handler id %q is used twice", r.ID)
		}
		ids[r.ID] = true
		if r.Handler == nil {
			return fmt.Errorf("handler %q has no function", r.ID)
		}
		switch r.Cause {
		case Create, Update, Delete, Resume:
		case Field:
			if r.Path == "" {
				return fmt.Errorf("field handler %q has no path", r.ID)
			}
		case Timer:
			if r.Interval <= 0 {
				return fmt.Errorf("timer %q has no interval", r.ID)
			}
		default:
			return fmt.Errorf("handler %q has unknown cause %q", r.ID, r.Cause)
		}
		if r.Optional && r.Cause != Delete {
			return fmt.Errorf("handler %q: only delete handlers can be optional", r.ID)
		}
	}
	return nil
}

// classify names an outcome for metrics and logs.
func classify(res Result, err error) string {
	var tmp *TemporaryError
	var perm *PermanentError
	switch {
	case errors.As(err, &perm):
		return "permanent"
	case errors.As(err, &tmp):
		return "temporary"
	case err != nil:
		return "error"
	case res.RequeueAfter > 0:
		return "requeue"
	default:
		return "done"
	}
}
