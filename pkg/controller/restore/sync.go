package restore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// Reasons of the Ready condition of a restore.
const (
	// ReasonPlanned: the plan is written; pods restore when they are created.
	ReasonPlanned = "Planned"
	// ReasonBackupNotFound: spec.restore names no existing CassandraBackup.
	ReasonBackupNotFound = "BackupNotFound"
	// ReasonBackupNotCompleted: the backup exists but is not COMPLETED.
	ReasonBackupNotCompleted = "BackupNotCompleted"
	// ReasonBackupUnreadable: the backup's topology or manifests could not be read.
	ReasonBackupUnreadable = "BackupUnreadable"
	// ReasonTooFewNodes: the datacenter has no node to restore into.
	ReasonTooFewNodes = "TooFewNodes"
	// ReasonPlanTooLarge: the plan does not fit in a ConfigMap.
	ReasonPlanTooLarge = "PlanTooLarge"
)

// maxPlanBytes keeps a plan under the 1 MiB limit of a ConfigMap, with room for metadata.
const maxPlanBytes = 1000 * 1024

type dcEvent = reconciler.Event[*v1alpha1.CassandraDataCenter]

// status returns dc's status.restore, creating it.
func status(dc *v1alpha1.CassandraDataCenter) *v1alpha1.RestoreStatus {
	if dc.Status.Restore == nil {
		dc.Status.Restore = &v1alpha1.RestoreStatus{}
	}
	return dc.Status.Restore
}

// waiting records why the plan cannot be made yet, and returns it as the error that
// retries the plan with the same reason.
func (c *Controller) waiting(dc *v1alpha1.CassandraDataCenter, reason, msg string) error {
	st := status(dc)
	st.State = v1alpha1.RestorePending
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, reason, msg, dc.Generation))
	return reconciler.Temporary(reconciler.WithReason(reason, errors.New(msg)), c.opts.Recheck)
}

// plan makes (or removes) the restore plan of the datacenter.
func (c *Controller) plan(ctx context.Context, ev *dcEvent) (reconciler.Result, error) {
	dc := ev.Object
	logger := klog.FromContext(ctx)
	if dc.Spec.Restore == nil {
		c.unplan(dc)
		return reconciler.Result{}, nil
	}
	r := dc.Spec.Restore
	st := status(dc)
	st.BackupName = r.BackupName
	b, err := c.backups.CassandraBackups(dc.Namespace).Get(r.BackupName)
	if apierrors.IsNotFound(err) {
		msg := fmt.Sprintf("backup %s does not exist in namespace %s", r.BackupName, dc.Namespace)
		return reconciler.Result{}, c.waiting(dc, ReasonBackupNotFound, msg)
	}
	if err != nil {
		return reconciler.Result{}, fmt.Errorf("get backup %s: %w", r.BackupName, err)
	}
	if b.Status.State != v1alpha1.BackupCompleted {
		state := string(b.Status.State)
		if state == "" {
			state = "not started"
		}
		msg := fmt.Sprintf("backup %s is %s; a restore needs a COMPLETED backup", b.Name, state)
		return reconciler.Result{}, c.waiting(dc, ReasonBackupNotCompleted, msg)
	}
	if err := c.checkRename(dc, b); err != nil {
		return reconciler.Result{}, err
	}
	where := b.Storage() // status.location for a backup with spec.locationRef
	secret := r.Secret
	if secret == "" {
		secret = where.Secret
	}
	sources, err := c.bucket.Nodes(ctx, b, secret)
	if refused(err) {
		return reconciler.Result{}, c.refuse(dc, ReasonBackupRefused, refusedMsg(b, err))
	}
	if err != nil {
		msg := fmt.Sprintf("read backup %s from %s: %v", b.Name, where.StorageLocation, err)
		return reconciler.Result{}, c.waiting(dc, ReasonBackupUnreadable, msg)
	}
	podName, err := c.podNameFor(dc)
	if err != nil {
		return reconciler.Result{}, err
	}
	targets := Targets(dc, len(sources), podName)
	pairs, err := Map(targets, sources, MapOptions{RackMap: r.RackMap})
	if err != nil {
		msg := fmt.Sprintf("cannot restore backup %s into datacenter %s: %v", b.Name, dc.Name, err)
		reason := ReasonTooFewNodes
		if errors.Is(err, ErrRackUnmapped) {
			reason = ReasonRackUnmapped
		}
		return reconciler.Result{}, c.refuse(dc, reason, msg)
	}
	diskNote, err := c.checkDisk(ctx, dc.Namespace, targets, pairs)
	if errors.Is(err, ErrInsufficientDisk) {
		msg := fmt.Sprintf("cannot restore backup %s into datacenter %s: %v", b.Name, dc.Name, err)
		return reconciler.Result{}, c.refuse(dc, ReasonInsufficientDisk, msg)
	}
	if err != nil {
		return reconciler.Result{}, err
	}
	p := &plan.Plan{
		Restore: *r, Backup: b.Name, StorageLocation: where.StorageLocation, SnapshotTag: b.Spec.SnapshotTag,
		SourceCluster: b.Spec.Cluster, SourceDatacenter: b.Spec.Datacenter, Secret: secret,
		Insecure: where.Insecure, Entities: b.Spec.Entities, Pods: map[string]plan.PodPlan{},
	}
	for pod, ss := range pairs {
		p.Pods[pod] = podPlan(where.StorageLocation, ss)
	}
	if err := p.Validate(); err != nil {
		return reconciler.Result{}, c.refuse(dc, ReasonBackupRefused, refusedMsg(b, err))
	}
	cm, err := p.ConfigMap(dc)
	if err != nil {
		return reconciler.Result{}, err
	}
	if n := configMapSize(cm); n > maxPlanBytes {
		msg := fmt.Sprintf("the restore plan of %d nodes takes %d bytes, over the %d a ConfigMap can hold", len(p.Pods), n, maxPlanBytes)
		st.State = v1alpha1.RestoreFailed
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonPlanTooLarge, msg, dc.Generation))
		return reconciler.Result{}, reconciler.Permanent(reconciler.WithReason(ReasonPlanTooLarge, errors.New(msg)))
	}
	changed, err := c.writePlan(ctx, cm)
	if err != nil {
		return reconciler.Result{}, err
	}
	st.Plan = cm.Name
	st.State = v1alpha1.RestorePlanned
	st.Nodes = c.nodeStates(dc, p, st.Nodes, false)
	st.State = overall(st.Nodes)
	msg := fmt.Sprintf("%d pods restore backup %s (%d backed-up nodes, %d pods planned)%s", len(p.Pods), b.Name, len(sources), len(targets), diskNote)
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, ReasonPlanned, msg, dc.Generation))
	setRepairRequired(st, p, dc.Generation)
	if changed {
		logger.Info("Restore plan written", "configMap", klog.KObj(cm), "backup", b.Name, "pods", len(p.Pods))
		c.event(dc, corev1.EventTypeNormal, "RestorePlanned", fmt.Sprintf("restore plan %s written: %s", cm.Name, msg))
	}
	return reconciler.Result{}, nil
}

func configMapSize(cm *corev1.ConfigMap) int {
	n := 0
	for k, v := range cm.Data {
		n += len(k) + len(v)
	}
	return n
}

// writePlan creates or updates the plan ConfigMap; it reports whether it wrote.
func (c *Controller) writePlan(ctx context.Context, want *corev1.ConfigMap) (bool, error) {
	cms := c.kube.CoreV1().ConfigMaps(want.Namespace)
	cur, err := c.configMaps.ConfigMaps(want.Namespace).Get(want.Name)
	if apierrors.IsNotFound(err) {
		// The cache may lag behind a write of ours: ask the server.
		cur, err = cms.Get(ctx, want.Name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		if _, err := cms.Create(ctx, want, metav1.CreateOptions{FieldManager: "cassandra-backup-operator/" + Name}); err != nil {
			return false, fmt.Errorf("create restore plan %s: %w", want.Name, err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get restore plan %s: %w", want.Name, err)
	}
	if maps.Equal(cur.Data, want.Data) && reflect.DeepEqual(cur.OwnerReferences, want.OwnerReferences) && cur.Labels[labelKey(want)] == want.Labels[labelKey(want)] {
		return false, nil
	}
	upd := cur.DeepCopy()
	upd.Data = want.Data
	upd.OwnerReferences = want.OwnerReferences
	if upd.Labels == nil {
		upd.Labels = map[string]string{}
	}
	maps.Copy(upd.Labels, want.Labels)
	if _, err := cms.Update(ctx, upd, metav1.UpdateOptions{FieldManager: "cassandra-backup-operator/" + Name}); err != nil {
		return false, fmt.Errorf("update restore plan %s: %w", want.Name, err)
	}
	return true, nil
}

func labelKey(cm *corev1.ConfigMap) string {
	for k := range cm.Labels {
		return k
	}
	return ""
}

// unplan ends the restore: without spec.restore the webhook injects nothing into new pods.
// The plan ConfigMap stays (it goes with the datacenter, or is rewritten by the next
// restore): the pods restored from it take their token configuration from it at every
// container start, and would not start if it were gone.
func (c *Controller) unplan(dc *v1alpha1.CassandraDataCenter) {
	if dc.Status.Restore != nil {
		c.event(dc, corev1.EventTypeNormal, "RestoreRemoved", fmt.Sprintf("spec.restore was removed: new pods are created without a restore; the plan %s stays for the restored pods' token configuration", plan.ConfigMapName(dc.Name)))
	}
	dc.Status.Restore = nil
}

// progress follows the pods' restores; while some are not done it looks again soon.
func (c *Controller) progress(ctx context.Context, ev *dcEvent) (reconciler.Result, error) {
	dc := ev.Object
	if dc.Spec.Restore == nil {
		c.unplan(dc)
		return reconciler.Result{}, nil
	}
	cm, err := c.configMaps.ConfigMaps(dc.Namespace).Get(plan.ConfigMapName(dc.Name))
	if apierrors.IsNotFound(err) {
		// Deleted behind our back: make it again.
		klog.FromContext(ctx).Info("Restore plan missing: planning again", "configMap", plan.ConfigMapName(dc.Name))
		if _, err := c.plan(ctx, ev); err != nil {
			return reconciler.Result{}, err
		}
		return reconciler.Result{RequeueAfter: c.opts.ActivePoll}, nil
	}
	if err != nil {
		return reconciler.Result{}, fmt.Errorf("get restore plan: %w", err)
	}
	p, err := plan.Decode(cm)
	if err != nil || !p.For(dc.Spec.Restore) {
		if _, err := c.plan(ctx, ev); err != nil {
			return reconciler.Result{}, err
		}
		return reconciler.Result{RequeueAfter: c.opts.ActivePoll}, nil
	}
	st := status(dc)
	prev := st.DeepCopy()
	before := st.State
	st.Nodes = c.nodeStates(dc, p, st.Nodes, true)
	st.State = overall(st.Nodes)
	c.measure(ctx, dc, prev, st)
	if st.State != before && st.State == v1alpha1.RestoreCompleted {
		c.event(dc, corev1.EventTypeNormal, "RestoreCompleted", fmt.Sprintf("all %d pods restored backup %s", len(st.Nodes), p.Backup))
	}
	rewrite := reconciler.Result{RequeueAfter: c.rewriteReplication(ctx, dc, p, st)}
	if st.State == v1alpha1.RestoreCompleted {
		return rewrite, nil
	}
	for _, n := range st.Nodes {
		if n.Message != msgNoPod {
			return reconciler.Result{RequeueAfter: c.opts.ActivePoll}, nil
		}
	}
	// No pod yet: look less often.
	return rewrite, nil
}

// nodeStates returns the per-pod states of plan p, from the pods' restore init
// containers; with emit, it records an event for each pod whose state changed.
func (c *Controller) nodeStates(dc *v1alpha1.CassandraDataCenter, p *plan.Plan, prev []v1alpha1.NodeRestoreStatus, emit bool) []v1alpha1.NodeRestoreStatus {
	old := map[string]v1alpha1.NodeRestoreStatus{}
	for _, n := range prev {
		old[n.Pod] = n
	}
	var out []v1alpha1.NodeRestoreStatus
	for _, name := range p.PodNames() {
		pp := p.Pods[name]
		n := v1alpha1.NodeRestoreStatus{Pod: name, SourceNode: strings.Join(pp.SourceNodes(), ",")}
		if o, ok := old[name]; ok && o.SourceNode == n.SourceNode {
			n.NodeRestoreProgress, n.TransferRate = o.NodeRestoreProgress, o.TransferRate
		}
		pod, err := c.pods.Pods(dc.Namespace).Get(name)
		if err != nil {
			n.State, n.Message = v1alpha1.RestorePending, msgNoPod
		} else {
			n.State, n.Message = PodState(pod, pp)
		}
		if o, ok := old[name]; emit && ok && o.State != n.State {
			switch n.State {
			case v1alpha1.RestoreCompleted:
				c.event(dc, corev1.EventTypeNormal, "PodRestored", fmt.Sprintf("pod %s restored node %s", name, strings.Join(pp.SourceNodes(), ",")))
			case v1alpha1.RestoreFailed:
				c.event(dc, corev1.EventTypeWarning, "PodRestoreFailed", fmt.Sprintf("pod %s failed to restore node %s: %s", name, strings.Join(pp.SourceNodes(), ","), n.Message))
			case v1alpha1.RestoreRunning:
				c.event(dc, corev1.EventTypeNormal, "PodRestoring", fmt.Sprintf("pod %s is restoring node %s", name, strings.Join(pp.SourceNodes(), ",")))
			}
		}
		out = append(out, n)
	}
	return out
}

// msgNoPod is the message of a planned pod that does not exist yet.
const msgNoPod = "waiting for the pod to be created"

// PodState returns a pod's restore state from its restore init container.
func PodState(pod *corev1.Pod, pp plan.PodPlan) (v1alpha1.RestoreState, string) {
	hasInit := false
	for _, ic := range pod.Spec.InitContainers {
		if ic.Name == plan.InitContainerName {
			hasInit = true
		}
	}
	if !hasInit {
		return v1alpha1.RestorePending, "the pod was created without the restore init container; delete it so that it is created again with it"
	}
	note := ""
	if k := pod.Annotations[plan.AnnotationRestoreKey]; k != pp.RestoreKey {
		note = " (admitted with another plan: " + k + ")"
	}
	for _, s := range pod.Status.InitContainerStatuses {
		if s.Name != plan.InitContainerName {
			continue
		}
		last := s.LastTerminationState.Terminated
		switch {
		case s.State.Terminated != nil && s.State.Terminated.ExitCode == 0:
			return v1alpha1.RestoreCompleted, "restored" + note
		case s.State.Terminated != nil:
			return v1alpha1.RestoreFailed, terminated(s.State.Terminated) + note
		case s.State.Running != nil:
			if last != nil && last.ExitCode != 0 {
				return v1alpha1.RestoreRunning, fmt.Sprintf("retrying (restart %d) after: %s%s", s.RestartCount, terminated(last), note)
			}
			return v1alpha1.RestoreRunning, "downloading" + note
		case last != nil && last.ExitCode != 0:
			return v1alpha1.RestoreFailed, terminated(last) + note
		case s.State.Waiting != nil:
			return v1alpha1.RestorePending, "init container waiting: " + s.State.Waiting.Reason + note
		}
	}
	if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded {
		return v1alpha1.RestoreCompleted, "restored" + note
	}
	return v1alpha1.RestorePending, "the restore init container has not started" + note
}

func terminated(t *corev1.ContainerStateTerminated) string {
	msg := strings.TrimSpace(t.Message)
	if msg == "" {
		msg = t.Reason
	}
	if len(msg) > 512 {
		msg = "…" + msg[len(msg)-512:]
	}
	return fmt.Sprintf("exit code %d: %s", t.ExitCode, msg)
}

// overall is the state of a restore from its pods' states.
func overall(nodes []v1alpha1.NodeRestoreStatus) v1alpha1.RestoreState {
	if len(nodes) == 0 {
		return v1alpha1.RestorePlanned
	}
	count := map[v1alpha1.RestoreState]int{}
	for _, n := range nodes {
		count[n.State]++
	}
	switch {
	case count[v1alpha1.RestoreFailed] > 0:
		return v1alpha1.RestoreFailed
	case count[v1alpha1.RestoreCompleted] == len(nodes):
		return v1alpha1.RestoreCompleted
	case count[v1alpha1.RestoreRunning]+count[v1alpha1.RestoreCompleted] > 0:
		return v1alpha1.RestoreRunning
	default:
		return v1alpha1.RestorePlanned
	}
}

func (c *Controller) event(dc *v1alpha1.CassandraDataCenter, typ, reason, msg string) {
	if c.recorder != nil {
		c.recorder.Event(dc, typ, reason, msg)
	}
}
