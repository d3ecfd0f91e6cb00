package schedule

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// Reasons of a schedule's conditions and events.
const (
	// ReasonInvalidSchedule: the cron expression or the time zone cannot be read (Ready False).
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonScheduled: the schedule runs (Ready True).
	ReasonScheduled = "Scheduled"
	// ReasonSuspended: spec.suspend is set (Ready True: nothing is wrong).
	ReasonSuspended = "Suspended"
	// ReasonWaiting: a due run waits for the active one (concurrencyPolicy Forbid).
	ReasonWaiting = "Waiting"
	// ReasonRunCreated: an event, a run's CassandraBackup was created.
	ReasonRunCreated = "RunCreated"
	// ReasonRunSkipped: an event, a run was skipped past its starting deadline.
	ReasonRunSkipped = "RunSkipped"
	// ReasonRunFinished: an event, a run reached COMPLETED, FAILED or CANCELLED.
	ReasonRunFinished = "RunFinished"
	// ReasonExpired: an event, retention deleted a backup.
	ReasonExpired = "Expired"
	// ReasonCreateFailed: a run's CassandraBackup could not be created (Synced False).
	ReasonCreateFailed = "CreateFailed"
)

// validate checks the cron expression and the time zone.
func (c *Controller) validate(_ context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackupSchedule]) (reconciler.Result, error) {
	s := ev.Object
	if _, err := Parse(s.Spec.Schedule, s.Spec.TimeZone); err != nil {
		reconciler.SetCondition(&s.Status.Conditions, reconciler.Ready(false, ReasonInvalidSchedule, err.Error(), s.Generation))
		s.Status.NextScheduleTime = nil
		return reconciler.Result{}, reconciler.Permanent(reconciler.WithReason(ReasonInvalidSchedule, err))
	}
	return reconciler.Result{}, nil
}

// tick observes the schedule's runs, starts the one that is due and applies retention.
func (c *Controller) tick(ctx context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackupSchedule]) (reconciler.Result, error) {
	s := ev.Object
	tt, err := Parse(s.Spec.Schedule, s.Spec.TimeZone)
	if err != nil {
		return reconciler.Result{}, reconciler.Permanent(reconciler.WithReason(ReasonInvalidSchedule, err))
	}
	now := c.cfg.Clock.Now()
	runs, err := c.observe(s)
	if err != nil {
		return reconciler.Result{}, err
	}
	c.metrics.observe(s, tt.Period(now))
	if err := c.runDue(ctx, s, tt, runs, now); err != nil {
		return reconciler.Result{}, err
	}
	if err := c.expire(ctx, s, runs, tt, now); err != nil {
		return reconciler.Result{}, err
	}
	wait := c.cfg.PollInterval
	if s.Spec.Suspend {
		s.Status.NextScheduleTime = nil
		reconciler.SetCondition(&s.Status.Conditions, reconciler.Ready(true, ReasonSuspended, "spec.suspend is set: no new runs", s.Generation))
	} else if next := tt.Next(now); !next.IsZero() {
		s.Status.NextScheduleTime = &metav1.Time{Time: next}
		if d := next.Sub(now); d < wait {
			wait = d
		}
	}
	return reconciler.Result{RequeueAfter: wait}, nil
}

// observe lists the schedule's backups (not being deleted), newest first, and records
// the active runs, the counts and the newest success in status.
func (c *Controller) observe(s *v1alpha1.CassandraBackupSchedule) ([]Run, error) {
	sel := labels.SelectorFromSet(labels.Set{LabelSchedule: s.Name})
	list, err := c.backups.CassandraBackups(s.Namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("list the schedule's backups: %w", err)
	}
	st := &s.Status
	st.Active, st.ActiveCount, st.Completed, st.Failed = nil, 0, 0, 0
	var runs []Run
	fin := map[string]v1alpha1.BackupState{}
	for _, b := range list {
		if b.DeletionTimestamp != nil {
			continue
		}
		r := Run{Name: b.Name, Time: slotOf(b), State: b.Status.State}
		runs = append(runs, r)
		switch {
		case !r.finished():
			st.Active = append(st.Active, b.Name)
		case r.State == v1alpha1.BackupCompleted:
			st.Completed++
			if st.LastSuccessfulTime == nil || st.LastSuccessfulTime.Time.Before(r.Time) {
				st.LastSuccessfulTime = &metav1.Time{Time: r.Time}
			}
		default:
			st.Failed++
		}
		if r.finished() {
			fin[b.Name] = r.State
		}
	}
	for _, name := range c.metrics.finished(s, fin) {
		c.event(s, corev1.EventTypeNormal, ReasonRunFinished, "Run %s finished: %s", name, fin[name])
	}
	sort.Strings(st.Active)
	st.ActiveCount = int32(len(st.Active))
	sort.Slice(runs, func(i, j int) bool { return runs[i].Time.After(runs[j].Time) })
	return runs, nil
}

// slotOf is the time a backup's run was due: its AnnotationSlot, else its creation time.
func slotOf(b *v1alpha1.CassandraBackup) time.Time {
	if t, err := time.Parse(time.RFC3339, b.Annotations[AnnotationSlot]); err == nil {
		return t
	}
	return b.CreationTimestamp.Time
}

// expire deletes the backups retention no longer keeps.
func (c *Controller) expire(ctx context.Context, s *v1alpha1.CassandraBackupSchedule, runs []Run, tt Timetable, now time.Time) error {
	p, ok := PolicyOf(s.Spec.Retention, tt.Location)
	if !ok {
		return nil
	}
	for _, r := range Expired(runs, p, now) {
		err := c.client.CassandraoperatorV1alpha1().CassandraBackups(s.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete expired backup %s: %w", r.Name, err)
		}
		if err == nil {
			s.Status.Expired++
			c.metrics.expired(s)
			c.event(s, corev1.EventTypeNormal, ReasonExpired, "Deleted backup %s (%s, run of %s): retention no longer keeps it",
				r.Name, r.State, r.Time.UTC().Format(time.RFC3339))
		}
		if r.State == v1alpha1.BackupCompleted {
			s.Status.Completed--
		} else {
			s.Status.Failed--
		}
	}
	return nil
}

// event records an event on the schedule, when the controller has a recorder.
func (c *Controller) event(s *v1alpha1.CassandraBackupSchedule, typ, reason, format string, args ...any) {
	if c.recorder != nil {
		c.recorder.Eventf(s, typ, reason, format, args...)
	}
}
