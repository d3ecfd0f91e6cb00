package location

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// checked is what the last check of a location saw.
type checked struct {
	generation  int64
	fingerprint [32]byte
	at          time.Time
}

// event is what the handlers are called with.
type event = reconciler.Event[*v1alpha1.CassandraBackupLocation]

// tick checks the location when a check is due (first sight, a new spec, a change of the
// Secret's content, or Period since the last one), imports the bucket's backups when the
// location is available and spec.sync is set, and counts the backups that use it.
func (c *Controller) tick(ctx context.Context, ev *event) (reconciler.Result, error) {
	l := ev.Object
	st := &l.Status
	st.Backups = c.countBackups(l)
	creds, credErr := c.credentials(ctx, l)
	var f *failure
	if credErr != nil && !errors.As(credErr, &f) {
		return reconciler.Result{}, credErr // the API server, not the location: retried
	}
	now := c.cfg.Clock.Now()
	seen := checked{generation: l.Generation, fingerprint: creds.Fingerprint(), at: now}
	c.mu.Lock()
	last, ok := c.checked[string(l.UID)]
	c.mu.Unlock()
	if ok && last.generation == seen.generation && last.fingerprint == seen.fingerprint && now.Sub(last.at) < c.cfg.Period {
		return reconciler.Result{}, nil
	}
	err := credErr
	if err == nil {
		err = c.checkAndSync(ctx, l, creds)
	}
	c.mu.Lock()
	c.checked[string(l.UID)] = seen
	c.mu.Unlock()
	t := metav1.NewTime(now.Truncate(time.Second))
	st.LastCheckTime = &t
	if errors.As(err, &f) {
		c.setAvailable(l, false, f.reason, f.msg)
		return reconciler.Result{}, nil
	}
	return reconciler.Result{}, err
}

// checkAndSync probes the location and, when it is available, sets Available and syncs.
// A failed probe is a *failure; a failed sync any other error.
func (c *Controller) checkAndSync(ctx context.Context, l *v1alpha1.CassandraBackupLocation, creds storage.Credentials) error {
	pctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
	defer cancel()
	p, err := c.open(pctx, l, creds)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := c.probe(pctx, l, p); err != nil {
		return err
	}
	c.setAvailable(l, true, v1alpha1.LocationReasonAvailable, fmt.Sprintf("put, read and deleted a probe object in bucket %s", p.Bucket()))
	if !l.Spec.Sync {
		l.Status.RemoteBackups = nil
		return nil
	}
	if err := c.importBackups(ctx, l, p); err != nil {
		return fmt.Errorf("sync from bucket %s: %w", p.Bucket(), err)
	}
	return nil
}

// setAvailable sets the Available condition and records an event when it changes.
func (c *Controller) setAvailable(l *v1alpha1.CassandraBackupLocation, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	old := meta.FindStatusCondition(l.Status.Conditions, v1alpha1.LocationAvailable)
	flips := old == nil || old.Status != status || old.Reason != reason
	reconciler.SetCondition(&l.Status.Conditions, metav1.Condition{Type: v1alpha1.LocationAvailable, Status: status,
		Reason: reason, Message: msg, ObservedGeneration: l.Generation})
	if !flips || c.recorder == nil {
		return
	}
	typ := corev1.EventTypeNormal
	if !ok {
		typ = corev1.EventTypeWarning
	}
	c.recorder.Event(l, typ, reason, msg)
}

// countBackups counts the CassandraBackups in the location's namespace that reference it.
func (c *Controller) countBackups(l *v1alpha1.CassandraBackupLocation) int32 {
	all, err := c.backups.CassandraBackups(l.Namespace).List(labels.Everything())
	if err != nil {
		klog.Background().Error(err, "List backups")
		return l.Status.Backups
	}
	var n int32
	for _, b := range all {
		if b.Spec.LocationRef != nil && b.Spec.LocationRef.Name == l.Name {
			n++
		}
	}
	return n
}
