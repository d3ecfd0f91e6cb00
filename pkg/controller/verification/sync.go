package verification

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/schedule"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/verify"
)

// Reasons of a drill's conditions and events.
const (
	// ReasonInvalidSpec: the sample or the schedule cannot be read (Ready False).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonBackupNotReady: the backup does not exist or is not COMPLETED (Ready False, retried).
	ReasonBackupNotReady = "BackupNotReady"
	// ReasonRunning: a drill's pod runs (Ready False).
	ReasonRunning = "Running"
	// ReasonVerified: the newest run COMPLETED (Ready True).
	ReasonVerified = "Verified"
	// ReasonVerificationFailed: the newest run FAILED (Ready False).
	ReasonVerificationFailed = "VerificationFailed"
	// ReasonScheduled: a scheduled drill waits for its first run (Ready False).
	ReasonScheduled = "Scheduled"
	// ReasonRunStarted: an event, a run's pod was created.
	ReasonRunStarted = "RunStarted"
)

// backupRetry is how long a drill waits before looking at a backup that is not ready again.
const backupRetry = 30 * time.Second

// validate checks the sample and the schedule.
func (c *Controller) validate(_ context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackupVerification]) (reconciler.Result, error) {
	v := ev.Object
	err := validSpec(v)
	if err != nil {
		reconciler.SetCondition(&v.Status.Conditions, reconciler.Ready(false, ReasonInvalidSpec, err.Error(), v.Generation))
		return reconciler.Result{}, reconciler.Permanent(reconciler.WithReason(ReasonInvalidSpec, err))
	}
	return reconciler.Result{}, nil
}

func validSpec(v *v1alpha1.CassandraBackupVerification) error {
	if _, err := verify.ParseSample(v.Spec.Sample); err != nil {
		return err
	}
	if v.Spec.Schedule != "" {
		if _, err := schedule.Parse(v.Spec.Schedule, v.Spec.TimeZone); err != nil {
			return err
		}
	}
	return nil
}

// tick moves the drill's run one step: start a due run, create its pod, follow it.
func (c *Controller) tick(ctx context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackupVerification]) (reconciler.Result, error) {
	v := ev.Object
	if err := validSpec(v); err != nil {
		return reconciler.Result{}, reconciler.Permanent(reconciler.WithReason(ReasonInvalidSpec, err))
	}
	now := c.cfg.Clock.Now()
	switch v.Status.State {
	case v1alpha1.VerificationRunning:
		return c.follow(ctx, v, now)
	case v1alpha1.VerificationPending:
		if v.Status.PodName != "" {
			return c.createPod(ctx, v)
		}
	case v1alpha1.VerificationCompleted, v1alpha1.VerificationFailed:
		if err := c.cleanup(ctx, v); err != nil {
			return reconciler.Result{}, err
		}
	}
	slot, next, due, err := c.due(v, now)
	if err != nil {
		return reconciler.Result{}, err
	}
	if next.IsZero() {
		v.Status.NextRun = nil
	} else {
		v.Status.NextRun = &metav1.Time{Time: next}
	}
	if !due {
		if v.Status.State == "" {
			v.Status.State = v1alpha1.VerificationPending
			reconciler.SetCondition(&v.Status.Conditions, reconciler.Ready(false, ReasonScheduled, "waiting for the first run", v.Generation))
		}
		if next.IsZero() {
			return reconciler.Result{}, nil
		}
		return reconciler.Result{RequeueAfter: min(next.Sub(now), c.cfg.PollInterval*12)}, nil
	}
	return c.start(v, slot)
}

// due says whether a run is due now and for which slot, and when the next one is: once
// for a drill without schedule (its slot is its creation), else at each cron slot after
// the newest run.
func (c *Controller) due(v *v1alpha1.CassandraBackupVerification, now time.Time) (slot, next time.Time, due bool, err error) {
	if v.Spec.Schedule == "" {
		return v.CreationTimestamp.Time, time.Time{}, v.Status.State == "" || v.Status.State == v1alpha1.VerificationPending, nil
	}
	tt, err := schedule.Parse(v.Spec.Schedule, v.Spec.TimeZone)
	if err != nil {
		return slot, next, false, reconciler.Permanent(reconciler.WithReason(ReasonInvalidSpec, err))
	}
	after := v.CreationTimestamp.Time
	if v.Status.LastRun != nil {
		after = v.Status.LastRun.Time
	}
	slot = tt.Missed(after, now)
	return slot, tt.Next(now), !slot.IsZero(), nil
}

// start records a new run for slot (PENDING with its pod's name), once its backup is
// COMPLETED; the pod is created on the next step.
func (c *Controller) start(v *v1alpha1.CassandraBackupVerification, slot time.Time) (reconciler.Result, error) {
	if _, err := c.backup(v); err != nil {
		return reconciler.Result{}, err
	}
	st := &v.Status
	st.State, st.PodName = v1alpha1.VerificationPending, schedule.RunName(v.Name, slot)
	st.LastRun = &metav1.Time{Time: slot}
	st.StartTime, st.CompletionTime, st.Message = nil, nil, ""
	st.Nodes, st.ObjectsVerified, st.BytesVerified, st.FailureCount = nil, 0, 0, 0
	return reconciler.Result{RequeueAfter: time.Millisecond}, nil
}

// backup returns the drill's backup when it is COMPLETED.
func (c *Controller) backup(v *v1alpha1.CassandraBackupVerification) (*v1alpha1.CassandraBackup, error) {
	b, err := c.backups.CassandraBackups(v.Namespace).Get(v.Spec.BackupName)
	var why error
	switch {
	case apierrors.IsNotFound(err):
		why = fmt.Errorf("backup %s does not exist", v.Spec.BackupName)
	case err != nil:
		return nil, err
	case b.Status.State != v1alpha1.BackupCompleted:
		why = fmt.Errorf("backup %s is %s, not COMPLETED", v.Spec.BackupName, orNone(string(b.Status.State)))
	}
	if why != nil {
		reconciler.SetCondition(&v.Status.Conditions, reconciler.Ready(false, ReasonBackupNotReady, why.Error(), v.Generation))
		return nil, reconciler.Temporary(reconciler.WithReason(ReasonBackupNotReady, why), backupRetry)
	}
	return b, nil
}

// createPod creates the pending run's pod (an existing one is the run's: a restart
// between creating it and recording it) and marks the run RUNNING.
func (c *Controller) createPod(ctx context.Context, v *v1alpha1.CassandraBackupVerification) (reconciler.Result, error) {
	b, err := c.backup(v)
	if err != nil {
		return reconciler.Result{}, err
	}
	pod := Pod(v, b, v.Status.PodName, c.cfg)
	_, err = c.kube.CoreV1().Pods(v.Namespace).Create(ctx, pod, metav1.CreateOptions{FieldManager: Name})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return reconciler.Result{}, fmt.Errorf("create the drill's pod %s: %w", pod.Name, err)
	}
	v.Status.State = v1alpha1.VerificationRunning
	v.Status.StartTime = &metav1.Time{Time: c.cfg.Clock.Now()}
	reconciler.SetCondition(&v.Status.Conditions, reconciler.Ready(false, ReasonRunning, "pod "+pod.Name+" verifies backup "+b.Name, v.Generation))
	c.event(v, corev1.EventTypeNormal, ReasonRunStarted, "Pod %s verifies backup %s", pod.Name, b.Name)
	return reconciler.Result{RequeueAfter: c.cfg.PollInterval}, nil
}

// follow looks at the running pod; when it ended, records its outcome and deletes it.
func (c *Controller) follow(ctx context.Context, v *v1alpha1.CassandraBackupVerification, now time.Time) (reconciler.Result, error) {
	pod, err := c.kube.CoreV1().Pods(v.Namespace).Get(ctx, v.Status.PodName, metav1.GetOptions{})
	var out Outcome
	switch {
	case apierrors.IsNotFound(err):
		out = Outcome{Done: true, State: v1alpha1.VerificationFailed, Message: fmt.Sprintf("the drill's pod %s was deleted before it ended", v.Status.PodName)}
	case err != nil:
		return reconciler.Result{}, fmt.Errorf("get the drill's pod %s: %w", v.Status.PodName, err)
	default:
		out = OutcomeOf(pod)
	}
	if !out.Done {
		return reconciler.Result{RequeueAfter: c.cfg.PollInterval}, nil
	}
	// The pod goes on the next step, once the outcome is in status: a restart in between
	// must not find the run RUNNING with its pod gone.
	c.record(v, out, now)
	return reconciler.Result{RequeueAfter: time.Millisecond}, nil
}

// cleanup deletes a finished run's pod, once per process and run (a restart deletes again,
// finding it gone); the ownerReference removes any pod left with the drill.
func (c *Controller) cleanup(ctx context.Context, v *v1alpha1.CassandraBackupVerification) error {
	key := v.Namespace + "/" + v.Name
	if v.Status.PodName == "" || c.cleaned(key) == v.Status.PodName {
		return nil
	}
	err := c.kube.CoreV1().Pods(v.Namespace).Delete(ctx, v.Status.PodName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the drill's pod %s: %w", v.Status.PodName, err)
	}
	c.mu.Lock()
	c.deleted[key] = v.Status.PodName
	c.mu.Unlock()
	return nil
}

// cleaned is the drill's newest run's pod this process deleted (or found gone).
func (c *Controller) cleaned(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deleted[key]
}

// record writes a finished run into status, its history and the Ready condition.
func (c *Controller) record(v *v1alpha1.CassandraBackupVerification, out Outcome, now time.Time) {
	st := &v.Status
	st.State, st.Message = out.State, out.Message
	st.CompletionTime = &metav1.Time{Time: now}
	if out.Result != nil {
		st.ObjectsVerified, st.BytesVerified, st.FailureCount = out.Result.Totals()
		st.Nodes = nodeStatus(out.Result)
	} else {
		st.FailureCount = max(st.FailureCount, 1)
	}
	if v.Spec.Schedule != "" {
		run := v1alpha1.VerificationRun{State: st.State, CompletionTime: st.CompletionTime,
			ObjectsVerified: st.ObjectsVerified, FailureCount: st.FailureCount, Message: st.Message}
		if st.StartTime != nil {
			run.StartTime = *st.StartTime
		}
		limit := 5
		if v.Spec.HistoryLimit != nil {
			limit = int(*v.Spec.HistoryLimit)
		}
		st.History = append([]v1alpha1.VerificationRun{run}, st.History...)
		if len(st.History) > limit {
			st.History = st.History[:limit]
		}
	}
	if out.State == v1alpha1.VerificationCompleted {
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, ReasonVerified, out.Message, v.Generation))
		c.event(v, corev1.EventTypeNormal, ReasonVerified, "Backup %s verified: %s", v.Spec.BackupName, out.Message)
		return
	}
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonVerificationFailed, out.Message, v.Generation))
	c.event(v, corev1.EventTypeWarning, ReasonVerificationFailed, "Backup %s did not verify: %s", v.Spec.BackupName, out.Message)
}

func orNone(s string) string {
	if s == "" {
		return "not started"
	}
	return s
}
