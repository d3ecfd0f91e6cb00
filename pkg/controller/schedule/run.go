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

// ReasonNameTaken: a run's name belongs to a CassandraBackup the schedule did not create.
const ReasonNameTaken = "NameTaken"

// runDue starts the newest run due since the last one, once: it is skipped past the
// starting deadline, and waits while another run is active under concurrencyPolicy Forbid.
// A run that exists already (an operator that stopped after creating it) is recorded, not
// created again.
func (c *Controller) runDue(ctx context.Context, s *v1alpha1.CassandraBackupSchedule, tt Timetable, runs []Run, now time.Time) error {
	st := &s.Status
	if len(runs) > 0 && (st.LastScheduleTime == nil || st.LastScheduleTime.Time.Before(runs[0].Time)) {
		st.LastScheduleTime = &metav1.Time{Time: runs[0].Time}
	}
	if s.Spec.Suspend {
		return nil
	}
	after := s.CreationTimestamp.Time
	for _, t := range []*metav1.Time{st.LastScheduleTime, st.LastSkippedTime} {
		if t != nil && t.Time.After(after) {
			after = t.Time
		}
	}
	slot := tt.Missed(after, now)
	if slot.IsZero() {
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, ReasonScheduled, "", s.Generation))
		return nil
	}
	if d := s.Spec.StartingDeadline; d != nil && now.Sub(slot) > d.Duration {
		st.Skipped++
		st.LastSkippedTime = &metav1.Time{Time: slot}
		c.metrics.skipped(s)
		c.event(s, corev1.EventTypeWarning, ReasonRunSkipped, "Skipped the run of %s: not started within the starting deadline %s",
			slot.UTC().Format(time.RFC3339), d.Duration)
		return nil
	}
	if wait, err := c.mustWait(ctx, s); err != nil || wait {
		if wait {
			reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, ReasonWaiting,
				fmt.Sprintf("the run of %s waits for %s to finish (concurrencyPolicy Forbid)", slot.UTC().Format(time.RFC3339), st.Active[0]), s.Generation))
		}
		return err
	}
	name := RunName(s.Name, slot)
	backups := c.client.CassandraoperatorV1alpha1().CassandraBackups(s.Namespace)
	_, err := backups.Create(ctx, newBackup(s, name, slot), metav1.CreateOptions{FieldManager: "cassandra-backup-operator/" + Name})
	switch {
	case apierrors.IsAlreadyExists(err):
		got, gerr := backups.Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			return fmt.Errorf("read run %s: %w", name, gerr)
		}
		if got.Labels[LabelSchedule] != s.Name {
			return reconciler.Permanent(reconciler.Reasonf(ReasonNameTaken,
				"the run of %s is named %s, and a CassandraBackup the schedule did not create has that name", slot.UTC().Format(time.RFC3339), name))
		}
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return reconciler.Permanent(reconciler.WithReason(ReasonCreateFailed, fmt.Errorf("create run %s from the template: %w", name, err)))
	case err != nil:
		return reconciler.WithReason(ReasonCreateFailed, fmt.Errorf("create run %s: %w", name, err))
	default:
		if err := c.cfg.Failpoint(FailpointCreated); err != nil {
			return err
		}
		c.metrics.started(s)
		c.event(s, corev1.EventTypeNormal, ReasonRunCreated, "Created backup %s for the run of %s", name, slot.UTC().Format(time.RFC3339))
	}
	st.LastScheduleTime = &metav1.Time{Time: slot}
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, ReasonScheduled, "", s.Generation))
	return nil
}

// mustWait reports whether a new run must wait for an active one (concurrencyPolicy
// Forbid). The informer cache may not hold yet a run this controller has just created, so
// when it shows none active, the API server is asked before a run starts (a read per run
// started, not per tick); the active runs it finds go into status.
func (c *Controller) mustWait(ctx context.Context, s *v1alpha1.CassandraBackupSchedule) (bool, error) {
	if s.Spec.ConcurrencyPolicy == v1alpha1.ConcurrencyAllow {
		return false, nil
	}
	if len(s.Status.Active) > 0 {
		return true, nil
	}
	list, err := c.client.CassandraoperatorV1alpha1().CassandraBackups(s.Namespace).List(ctx,
		metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{LabelSchedule: s.Name}).String()})
	if err != nil {
		return false, fmt.Errorf("list the schedule's backups: %w", err)
	}
	for i := range list.Items {
		b := &list.Items[i]
		if b.DeletionTimestamp == nil && !(Run{State: b.Status.State}).finished() {
			s.Status.Active = append(s.Status.Active, b.Name)
		}
	}
	sort.Strings(s.Status.Active)
	s.Status.ActiveCount = int32(len(s.Status.Active))
	return len(s.Status.Active) > 0, nil
}

// newBackup is the CassandraBackup of the run due at slot: the template, with the run's
// name as snapshot tag, deletionPolicy Delete, the schedule's label and the slot's annotation.
func newBackup(s *v1alpha1.CassandraBackupSchedule, name string, slot time.Time) *v1alpha1.CassandraBackup {
	t := s.Spec.DeepCopy().Template
	return &v1alpha1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   s.Namespace,
			Labels:      map[string]string{LabelSchedule: s.Name},
			Annotations: map[string]string{AnnotationSlot: slot.UTC().Format(time.RFC3339)},
		},
		Spec: v1alpha1.CassandraBackupSpec{
			CDC:                    t.CDC,
			Cluster:                t.Cluster,
			Datacenter:             t.Datacenter,
			StorageLocation:        t.StorageLocation,
			LocationRef:            t.LocationRef,
			SnapshotTag:            name,
			Secret:                 t.Secret,
			Entities:               t.Entities,
			CreateMissingBucket:    t.CreateMissingBucket,
			SkipBucketVerification: t.SkipBucketVerification,
			Insecure:               t.Insecure,
			MetadataDirective:      t.MetadataDirective,
			LifecycleExpiry:        t.LifecycleExpiry,
			SkipRefreshing:         t.SkipRefreshing,
			ConcurrentConnections:  t.ConcurrentConnections,
			Bandwidth:              t.Bandwidth,
			Timeout:                t.Timeout,
			DeletionPolicy:         v1alpha1.DeletionPolicyDelete,
		},
	}
}
