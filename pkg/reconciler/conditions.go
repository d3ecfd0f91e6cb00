package reconciler

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types and reasons, after crossplane-runtime: the one declaration of the
// condition types of every kind the reconciler handles (the API types name no type).
const (
	// TypeReady says whether the thing the object stands for is usable.
	TypeReady = "Ready"
	// TypeSynced says whether the last reconciliation succeeded.
	TypeSynced = "Synced"

	// ReasonAvailable: Ready is True.
	ReasonAvailable = "Available"
	// ReasonCreating: Ready is False while the thing is being made.
	ReasonCreating = "Creating"
	// ReasonDeleting: Ready is False while delete handlers run.
	ReasonDeleting = "Deleting"
	// ReasonUnavailable: Ready is False for another reason.
	ReasonUnavailable = "Unavailable"
	// ReasonReconcileSuccess: Synced is True.
	ReasonReconcileSuccess = "ReconcileSuccess"
	// ReasonReconcileError: Synced is False; the message names the failure.
	ReasonReconcileError = "ReconcileError"
)

// SetCondition sets the condition of its type in conds and reports whether anything
// changed. Setting an unchanged condition is a no-op: the transition time moves only when
// the status does.
func SetCondition(conds *[]metav1.Condition, c metav1.Condition) bool {
	return meta.SetStatusCondition(conds, c)
}

// Ready returns a Ready condition: True with reason Available when ok, else False with reason.
func Ready(ok bool, reason, message string, generation int64) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
		if reason == "" {
			reason = ReasonAvailable
		}
	}
	if reason == "" {
		reason = ReasonUnavailable
	}
	return metav1.Condition{Type: TypeReady, Status: st, Reason: reason, Message: message, ObservedGeneration: generation}
}

// Synced returns a Synced condition: True/ReconcileSuccess when message is empty, else
// False/ReconcileError with the message.
func Synced(message string, generation int64) metav1.Condition {
	return SyncedWithReason("", message, generation)
}

// SyncedWithReason is Synced whose False condition carries reason (ReconcileError when
// empty): the reason of the error that failed the reconciliation (see WithReason).
func SyncedWithReason(reason, message string, generation int64) metav1.Condition {
	if message == "" {
		return metav1.Condition{Type: TypeSynced, Status: metav1.ConditionTrue, Reason: ReasonReconcileSuccess, ObservedGeneration: generation}
	}
	if reason == "" {
		reason = ReasonReconcileError
	}
	return metav1.Condition{Type: TypeSynced, Status: metav1.ConditionFalse, Reason: reason, Message: message, ObservedGeneration: generation}
}

// transitions returns the conditions of types whose status or reason differ between
// before and after; a condition that appears True for the first time is not a transition
// worth an event unless it is Ready.
func transitions(before, after []metav1.Condition) []metav1.Condition {
	var out []metav1.Condition
	for _, c := range after {
		old := meta.FindStatusCondition(before, c.Type)
		switch {
		case old == nil:
			if c.Status != metav1.ConditionTrue || c.Type == TypeReady {
				out = append(out, c)
			}
		case old.Status != c.Status || old.Reason != c.Reason:
			out = append(out, c)
		case c.Status == metav1.ConditionFalse && old.Message != c.Message:
			out = append(out, c)
		}
	}
	return out
}
