package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// final reports whether a state ends a backup or a node's part of it.
func final(s v1alpha1.BackupState) bool {
	return s == v1alpha1.BackupCompleted || s == v1alpha1.BackupFailed || s == v1alpha1.BackupCancelled
}

// jitter returns d ±20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// percent formats done/total as "83%"; it reaches 100% only when complete.
func percent(done, total int64, complete bool) string {
	switch {
	case complete:
		return "100%"
	case total <= 0:
		return "0%"
	}
	p := done * 100 / total
	if p >= 100 {
		p = 99
	}
	return fmt.Sprintf("%d%%", p)
}

func (c *Controller) timeout(b *v1alpha1.CassandraBackup) time.Duration {
	if b.Spec.Timeout != nil && b.Spec.Timeout.Duration > 0 {
		return b.Spec.Timeout.Duration
	}
	return DefaultTimeout
}

// podsOf returns the running pods of the backup's datacenter, sorted by name.
func (c *Controller) podsOf(b *v1alpha1.CassandraBackup) ([]*corev1.Pod, error) {
	sel := c.labels.Selector(b.Spec.Cluster, b.Spec.Datacenter)
	pods, err := c.pods.Pods(b.Namespace).List(sel)
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// request is the backup operation sent to every node.
func (c *Controller) request(b *v1alpha1.CassandraBackup) api.Request {
	s := &b.Spec
	req := api.Request{
		Type:                   api.TypeBackup,
		StorageLocation:        s.StorageLocation,
		SnapshotTag:            b.Status.Snapshot,
		Entities:               s.Entities,
		DC:                     s.Datacenter,
		ConcurrentConnections:  int(s.ConcurrentConnections),
		MetadataDirective:      string(s.MetadataDirective),
		Insecure:               s.Insecure,
		CreateMissingBucket:    s.CreateMissingBucket,
		SkipBucketVerification: s.SkipBucketVerification,
	}
	if s.Secret != "" {
		req.K8sNamespace, req.K8sSecretName = b.Namespace, s.Secret
	}
	if s.Bandwidth != nil {
		req.Bandwidth = &api.Bandwidth{Value: s.Bandwidth.Value(), Unit: "BPS"}
	}
	// Icarus counts its timeout in whole hours; the operator enforces the exact one.
	hours := int((c.timeout(b) + time.Hour - 1) / time.Hour)
	req.Timeout = hours
	return req
}

// run drives the backup: it chooses the snapshot and the nodes, submits one operation
// per node, polls them by requeue and commits the backup with its topology file.
func (c *Controller) run(ctx context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackup]) (reconciler.Result, error) {
	b := ev.Object
	if final(b.Status.State) {
		return reconciler.Result{}, nil
	}
	if b.Spec.JustCreate {
		return c.observe(ctx, ev)
	}
	if b.Status.Snapshot == "" {
		return c.start(ctx, ev)
	}
	return c.poll(ctx, b)
}

// start chooses the nodes and the snapshot name and records them, before any agent is
// contacted; the next call submits.
func (c *Controller) start(ctx context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackup]) (reconciler.Result, error) {
	b := ev.Object
	pods, err := c.podsOf(b)
	if err != nil {
		return reconciler.Result{}, err
	}
	if len(pods) == 0 {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonNoPods,
			"no running pod labelled %s=%s, %s=%s in namespace %s: check spec.cluster and spec.datacenter, or wait for the datacenter to start",
			c.labels.Cluster, b.Spec.Cluster, c.labels.Datacenter, b.Spec.Datacenter, b.Namespace), c.secretBackoff(ev.Retry))
	}
	nodes := make([]v1alpha1.NodeBackupStatus, 0, len(pods))
	hostIDs := make([]string, 0, len(pods))
	for _, pod := range pods {
		node, err := c.cfg.Node(pod)
		if err != nil {
			return reconciler.Result{}, reconciler.Temporary(fmt.Errorf("node %s: %w", pod.Name, err), c.secretBackoff(ev.Retry))
		}
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		id, err := node.HostID(hctx)
		cancel()
		if err != nil {
			return reconciler.Result{}, reconciler.Temporary(fmt.Errorf("host id of node %s: %w", pod.Name, err), c.secretBackoff(ev.Retry))
		}
		hostIDs = append(hostIDs, id)
		nodes = append(nodes, v1alpha1.NodeBackupStatus{Node: pod.Name, Rack: pod.Labels[c.labels.Rack], HostID: id,
			State: v1alpha1.BackupPending, Progress: "0%"})
	}
	p, err := c.openStorage(ctx, b)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "%v", err), c.secretBackoff(ev.Retry))
	}
	defer p.Close()
	if err := c.checkTagUnused(ctx, b, p, hostIDs); err != nil {
		var r *refusal
		if errors.As(err, &r) {
			return reconciler.Result{}, reconciler.Permanent(err)
		}
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "%v", err), c.secretBackoff(ev.Retry))
	}
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	st := &b.Status
	st.Snapshot = b.Spec.SnapshotTag
	st.State = v1alpha1.BackupPending
	st.Progress = "0%"
	st.Nodes = nodes
	st.StartTime = &now
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, reconciler.ReasonCreating,
		fmt.Sprintf("backing up snapshot %s of %d nodes", st.Snapshot, len(nodes)), b.Generation))
	klog.FromContext(ctx).Info("Backup started", "snapshot", st.Snapshot, "nodes", len(nodes))
	// Written now, before any agent is contacted.
	return reconciler.Result{RequeueAfter: time.Millisecond}, nil
}

// poll submits missing operations, reads the others and sums up.
func (c *Controller) poll(ctx context.Context, b *v1alpha1.CassandraBackup) (reconciler.Result, error) {
	st := &b.Status
	now := c.cfg.Now()
	deadline := now.Add(time.Hour)
	if st.StartTime != nil {
		deadline = st.StartTime.Add(c.timeout(b))
	}
	next := jitter(c.cfg.PollInterval)
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if final(n.State) {
			continue
		}
		if d := c.pollNode(ctx, b, n, now, deadline); d > 0 && d < next {
			next = d
		}
	}
	return c.summarize(ctx, b, next)
}

// pollNode advances one node; it returns how soon to look again (0: the default).
func (c *Controller) pollNode(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus, now, deadline time.Time) time.Duration {
	logger := klog.FromContext(ctx).WithValues("node", n.Node)
	addr, err := c.address(b.Namespace, n.Node)
	if err != nil {
		c.unreachable(ctx, n, err, now, deadline)
		return 0
	}
	if n.OperationID == "" {
		return c.submit(ctx, b, n, addr, now, deadline)
	}
	op, err := c.cfg.Agents.Get(ctx, addr, n.OperationID)
	switch {
	case errors.Is(err, client.ErrNotFound):
		logger.Info("Operation unknown to the agent: resubmitting", "operation", n.OperationID)
		n.OperationID = ""
		n.Message = "operation unknown to the agent (restarted?): resubmitting"
		return time.Millisecond
	case err != nil:
		c.unreachable(ctx, n, err, now, deadline)
		return 0
	}
	c.record(n, &op)
	switch op.State {
	case api.StateCompleted:
		n.State = v1alpha1.BackupCompleted
		n.Progress = "100%"
		n.Message = ""
		n.CompletionTime = timePtr(op.CompletionTime, now)
	case api.StateFailed:
		msg := opMessage(&op)
		if int(n.Attempts) < c.cfg.MaxAttempts && now.Before(deadline) {
			logger.Info("Operation failed: resubmitting", "attempt", n.Attempts, "err", msg)
			n.OperationID = ""
			n.State = v1alpha1.BackupPending
			n.Message = fmt.Sprintf("attempt %d failed: %s; retrying", n.Attempts, msg)
			return time.Millisecond
		}
		n.State = v1alpha1.BackupFailed
		n.Message = fmt.Sprintf("failed after %d attempts: %s", n.Attempts, msg)
		n.CompletionTime = timePtr(op.CompletionTime, now)
	case api.StateCancelled:
		n.State = v1alpha1.BackupCancelled
		n.Message = "the operation was cancelled on the agent"
		n.CompletionTime = timePtr(op.CompletionTime, now)
	default:
		n.State = v1alpha1.BackupRunning
		n.Message = ""
		if !now.Before(deadline) {
			if err := c.cfg.Agents.Cancel(ctx, addr, n.OperationID); err != nil && !errors.Is(err, client.ErrNotFound) {
				logger.Info("Cancelling a timed-out operation failed", "err", err)
			}
			n.State = v1alpha1.BackupFailed
			n.Message = fmt.Sprintf("timed out: not completed within the backup's timeout of %s; the operation was cancelled", c.timeout(b))
			t := metav1.NewTime(now.Truncate(time.Second))
			n.CompletionTime = &t
		}
	}
	return 0
}

// submit sends the node's operation, or adopts one already running on the agent for the
// same snapshot (a previous operator process may have submitted it just before it died).
func (c *Controller) submit(ctx context.Context, b *v1alpha1.CassandraBackup, n *v1alpha1.NodeBackupStatus, addr string, now, deadline time.Time) time.Duration {
	req := c.request(b)
	ops, err := c.cfg.Agents.List(ctx, addr, api.TypeBackup)
	if err != nil {
		c.unreachable(ctx, n, err, now, deadline)
		return 0
	}
	var op *api.Operation
	for i := range ops {
		o := &ops[i]
		if o.SnapshotTag == req.SnapshotTag && o.StorageLocation == req.StorageLocation &&
			(o.State == api.StatePending || o.State == api.StateRunning || o.State == api.StateCompleted) {
			op = o
		}
	}
	if op == nil {
		if int(n.Attempts) >= c.cfg.MaxAttempts+5 {
			n.State = v1alpha1.BackupFailed
			n.Message = fmt.Sprintf("submitted %d times without completing: giving up (%s)", n.Attempts, n.Message)
			return 0
		}
		o, err := c.cfg.Agents.Submit(ctx, addr, req)
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status == 400 {
			n.State = v1alpha1.BackupFailed
			n.Message = "the agent refused the request: " + apiErr.Message
			return 0
		}
		if err != nil {
			c.unreachable(ctx, n, err, now, deadline)
			return 0
		}
		n.Attempts++
		op = &o
		klog.FromContext(ctx).V(1).Info("Operation submitted", "node", n.Node, "operation", o.ID, "attempt", n.Attempts)
	}
	n.OperationID = op.ID
	if n.StartTime == nil {
		t := metav1.NewTime(now.Truncate(time.Second))
		n.StartTime = &t
	}
	n.State = v1alpha1.BackupRunning
	if op.State == api.StatePending {
		n.State = v1alpha1.BackupPending
	}
	n.Message = ""
	c.record(n, op)
	return 0
}

// unreachable notes an agent that cannot be reached; past the deadline the node fails.
func (c *Controller) unreachable(ctx context.Context, n *v1alpha1.NodeBackupStatus, err error, now, deadline time.Time) {
	msg := fmt.Sprintf("agent unreachable: %s", stableError(err))
	if !now.Before(deadline) {
		n.State = v1alpha1.BackupFailed
		n.Message = msg + "; gave up at the backup's timeout"
		t := metav1.NewTime(now.Truncate(time.Second))
		n.CompletionTime = &t
		return
	}
	if n.Message != msg {
		klog.FromContext(ctx).Info("Agent unreachable, retrying", "node", n.Node, "err", err)
	}
	n.Message = msg
}

// stableError drops the parts of an error that change between attempts (ephemeral
// ports), so retrying does not rewrite status.
func stableError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	if i := strings.Index(s, "->"); i >= 0 {
		if j := strings.Index(s[i:], ":"); j >= 0 {
			s = strings.TrimSpace(s[:strings.LastIndex(s[:i], " ")+1]) + s[i+j:]
		}
	}
	return s
}

// address returns the agent's address for a node's pod.
func (c *Controller) address(ns, name string) (string, error) {
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("pod %s not found", name)
	}
	if err != nil {
		return "", fmt.Errorf("get pod %s: %w", name, err)
	}
	return c.cfg.AgentAddress(pod)
}

// record copies an operation's counts to the node.
func (c *Controller) record(n *v1alpha1.NodeBackupStatus, op *api.Operation) {
	n.BytesTotal = op.BytesTotal
	n.BytesUploaded = op.BytesTransferred + op.BytesSkipped
	n.FilesTotal = int64(op.FilesTotal)
	n.FilesSkipped = int64(op.FilesSkipped)
	n.Progress = percent(n.BytesUploaded, n.BytesTotal, op.State == api.StateCompleted)
}

// opMessage joins an operation's errors.
func opMessage(op *api.Operation) string {
	var msgs []string
	for _, e := range op.Errors {
		if e.Source != "" {
			msgs = append(msgs, e.Source+": "+e.Message)
		} else {
			msgs = append(msgs, e.Message)
		}
	}
	if len(msgs) == 0 {
		return "the operation failed without an error message"
	}
	return strings.Join(msgs, "; ")
}

func timePtr(t *time.Time, def time.Time) *metav1.Time {
	v := def
	if t != nil {
		v = *t
	}
	m := metav1.NewTime(v.Truncate(time.Second))
	return &m
}

// summarize sets the backup's state, progress and Ready from its nodes, and commits a
// backup whose nodes all completed.
func (c *Controller) summarize(ctx context.Context, b *v1alpha1.CassandraBackup, next time.Duration) (reconciler.Result, error) {
	st := &b.Status
	var total, done int64
	var completed, failed, cancelled, active int
	var failures []string
	for i := range st.Nodes {
		n := &st.Nodes[i]
		total += n.BytesTotal
		done += n.BytesUploaded
		switch n.State {
		case v1alpha1.BackupCompleted:
			completed++
		case v1alpha1.BackupFailed:
			failed++
			failures = append(failures, n.Node+": "+n.Message)
		case v1alpha1.BackupCancelled:
			cancelled++
		default:
			active++
			if n.OperationID != "" && n.State == v1alpha1.BackupRunning {
				st.State = v1alpha1.BackupRunning
			}
		}
	}
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	switch {
	case cancelled > 0:
		c.cancelAll(ctx, b)
		st.State = v1alpha1.BackupCancelled
		st.CompletionTime = &now
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonBackupCancelled, "an operation of the backup was cancelled", b.Generation))
		return reconciler.Result{}, nil
	case active > 0:
		st.Progress = percent(done, total, false)
		return reconciler.Result{RequeueAfter: next}, nil
	case failed > 0:
		st.State = v1alpha1.BackupFailed
		st.Progress = percent(done, total, false)
		st.CompletionTime = &now
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonBackupFailed, strings.Join(failures, "; "), b.Generation))
		klog.FromContext(ctx).Info("Backup failed", "failures", failures)
		return reconciler.Result{}, nil
	}
	key, err := c.commit(ctx, b)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "write the topology file: %v", err), c.cfg.PollInterval*5)
	}
	st.State = v1alpha1.BackupCompleted
	st.Progress = "100%"
	st.CompletionTime = &now
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, reconciler.ReasonAvailable,
		fmt.Sprintf("all %d nodes backed up; committed by %s", len(st.Nodes), key), b.Generation))
	klog.FromContext(ctx).Info("Backup completed", "topology", key)
	return reconciler.Result{}, nil
}

// cancelAll cancels the operations of nodes that have not ended.
func (c *Controller) cancelAll(ctx context.Context, b *v1alpha1.CassandraBackup) {
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	for i := range b.Status.Nodes {
		n := &b.Status.Nodes[i]
		if final(n.State) {
			continue
		}
		if n.OperationID != "" {
			if addr, err := c.address(b.Namespace, n.Node); err == nil {
				if err := c.cfg.Agents.Cancel(ctx, addr, n.OperationID); err != nil && !errors.Is(err, client.ErrNotFound) {
					klog.FromContext(ctx).Info("Cancel failed", "node", n.Node, "operation", n.OperationID, "err", err)
				}
			}
		}
		n.State = v1alpha1.BackupCancelled
		n.Message = "cancelled with the backup"
		n.CompletionTime = &now
	}
}

// commit writes the topology file, the backup's commit point, unless a previous pass did.
func (c *Controller) commit(ctx context.Context, b *v1alpha1.CassandraBackup) (string, error) {
	p, err := c.openStorage(ctx, b)
	if err != nil {
		return "", err
	}
	defer p.Close()
	if key, found, err := findTopology(ctx, p, b.Spec.Cluster, b.Status.Snapshot); err != nil || found {
		return key, err
	}
	topo := layout.Topology{ClusterName: b.Spec.Cluster}
	for _, n := range b.Status.Nodes {
		node := layout.Node{Cluster: b.Spec.Cluster, Datacenter: b.Spec.Datacenter, HostID: n.HostID}
		keys, err := storage.Keys(ctx, p, node.ManifestPrefix())
		if err != nil {
			return "", err
		}
		ref, ok := layout.LatestManifest(keys, b.Status.Snapshot)
		if !ok {
			return "", fmt.Errorf("node %s completed but its manifest for %s is not under %s", n.Node, b.Status.Snapshot, node.ManifestPrefix())
		}
		if topo.SchemaVersion == "" || ref.EpochMillis > topo.Timestamp {
			topo.SchemaVersion, topo.Timestamp = ref.SchemaVersion, ref.EpochMillis
		}
		ip := ""
		if pod, err := c.pods.Pods(b.Namespace).Get(n.Node); err == nil {
			ip = pod.Status.PodIP
		}
		topo.Topology = append(topo.Topology, layout.Host{Hostname: n.Node, Cluster: b.Spec.Cluster, DC: b.Spec.Datacenter,
			Rack: n.Rack, NodeID: n.HostID, IPAddress: ip})
	}
	data, err := json.Marshal(topo)
	if err != nil {
		return "", fmt.Errorf("encode topology: %w", err)
	}
	key := layout.TopologyKey(b.Spec.Cluster, b.Status.Snapshot, topo.SchemaVersion, c.cfg.Now())
	if _, err := p.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{ContentType: "application/json"}); err != nil {
		return "", fmt.Errorf("upload %s: %w", key, err)
	}
	return key, nil
}

// observe imports a remote backup (justCreate): COMPLETED when its topology and
// manifests are found, otherwise a Ready condition that says so and another look later.
func (c *Controller) observe(ctx context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackup]) (reconciler.Result, error) {
	b := ev.Object
	st := &b.Status
	p, err := c.openStorage(ctx, b)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "%v", err), c.secretBackoff(ev.Retry))
	}
	defer p.Close()
	notFound := func(format string, args ...any) (reconciler.Result, error) {
		msg := fmt.Sprintf(format, args...) + fmt.Sprintf("; looking again every %s", c.cfg.ImportInterval)
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonRemoteBackupNotFound, msg, b.Generation))
		st.State = v1alpha1.BackupPending
		return reconciler.Result{RequeueAfter: c.cfg.ImportInterval}, nil
	}
	exists, err := p.BucketExists(ctx)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "check bucket %s: %v", p.Bucket(), err), c.secretBackoff(ev.Retry))
	}
	if !exists {
		return notFound("bucket %s does not exist at %s", p.Bucket(), b.Spec.StorageLocation)
	}
	key, found, err := findTopology(ctx, p, b.Spec.Cluster, b.Spec.SnapshotTag)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "%v", err), c.secretBackoff(ev.Retry))
	}
	if !found {
		return notFound("no topology file of cluster %s and snapshot tag %s at %s", b.Spec.Cluster, b.Spec.SnapshotTag, b.Spec.StorageLocation)
	}
	var topo layout.Topology
	if err := storage.ReadJSON(ctx, p, key, &topo); err != nil {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "%v", err), c.secretBackoff(ev.Retry))
	}
	var nodes []v1alpha1.NodeBackupStatus
	for _, h := range topo.Topology {
		if h.DC != b.Spec.Datacenter {
			continue
		}
		node := layout.Node{Cluster: b.Spec.Cluster, Datacenter: b.Spec.Datacenter, HostID: h.NodeID}
		keys, err := storage.Keys(ctx, p, node.ManifestPrefix())
		if err != nil {
			return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "%v", err), c.secretBackoff(ev.Retry))
		}
		ref, ok := layout.LatestManifest(keys, b.Spec.SnapshotTag)
		if !ok {
			return notFound("the topology %s lists node %s but its manifest for %s is missing under %s", key, h.Hostname, b.Spec.SnapshotTag, node.ManifestPrefix())
		}
		var m layout.Manifest
		if err := storage.ReadJSON(ctx, p, ref.Key, &m); err != nil {
			return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "%v", err), c.secretBackoff(ev.Retry))
		}
		files := m.Files()
		size := m.Size()
		t := metav1.NewTime(ref.Time().Truncate(time.Second))
		nodes = append(nodes, v1alpha1.NodeBackupStatus{Node: h.Hostname, Rack: h.Rack, HostID: h.NodeID,
			State: v1alpha1.BackupCompleted, Progress: "100%", BytesTotal: size, BytesUploaded: size,
			FilesTotal: int64(len(files)), CompletionTime: &t})
	}
	if len(nodes) == 0 {
		return notFound("the topology %s lists no node of datacenter %s", key, b.Spec.Datacenter)
	}
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	st.Snapshot = b.Spec.SnapshotTag
	st.Nodes = nodes
	st.State = v1alpha1.BackupCompleted
	st.Progress = "100%"
	st.CompletionTime = &now
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(true, reconciler.ReasonAvailable,
		fmt.Sprintf("imported the remote backup committed by %s (%d nodes)", key, len(nodes)), b.Generation))
	return reconciler.Result{}, nil
}

// delete cancels operations still running and, with deletionPolicy Delete, removes the
// backup from the bucket.
func (c *Controller) delete(ctx context.Context, ev *reconciler.Event[*v1alpha1.CassandraBackup]) (reconciler.Result, error) {
	b := ev.Object
	if b.Status.Snapshot != "" && !final(b.Status.State) && !b.Spec.JustCreate {
		c.cancelAll(ctx, b)
	}
	if b.Spec.DeletionPolicy != v1alpha1.DeletionPolicyDelete || b.Status.Snapshot == "" {
		return reconciler.Result{}, nil
	}
	p, err := c.openStorage(ctx, b)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "%v", err), c.secretBackoff(ev.Retry))
	}
	defer p.Close()
	if err := c.removeRemote(ctx, b, p); err != nil {
		return reconciler.Result{}, reconciler.Temporary(refuse(ReasonStorageUnavailable, "delete the remote backup: %v", err), c.secretBackoff(ev.Retry))
	}
	return reconciler.Result{}, nil
}

// removeRemote deletes the backup's topology files, then the data objects its manifests
// reference and no other manifest does, then its manifests (last, so an interrupted
// deletion can be resumed).
func (c *Controller) removeRemote(ctx context.Context, b *v1alpha1.CassandraBackup, p storage.Provider) error {
	tag, cluster := b.Status.Snapshot, b.Spec.Cluster
	keys, err := storage.Keys(ctx, p, layout.TopologyDir+"/"+cluster+"-"+tag+"-")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if ref, err := layout.ParseTopologyKey(k, cluster); err == nil && ref.Tag == tag {
			if err := p.Delete(ctx, k); err != nil {
				return fmt.Errorf("delete %s: %w", k, err)
			}
		}
	}
	removed := 0
	for _, n := range b.Status.Nodes {
		if n.HostID == "" {
			continue
		}
		node := layout.Node{Cluster: cluster, Datacenter: b.Spec.Datacenter, HostID: n.HostID}
		keys, err := storage.Keys(ctx, p, node.ManifestPrefix())
		if err != nil {
			return err
		}
		var ours []string
		keep := map[string]bool{}
		candidates := map[string]bool{}
		for _, k := range keys {
			ref, err := layout.ParseManifestKey(k)
			if err != nil {
				continue
			}
			var m layout.Manifest
			if err := storage.ReadJSON(ctx, p, k, &m); err != nil {
				return err
			}
			for _, f := range m.Files() {
				if ref.Tag == tag {
					candidates[f.ObjectKey] = true
				} else {
					keep[f.ObjectKey] = true
				}
			}
			if ref.Tag == tag {
				ours = append(ours, k)
			}
		}
		for k := range candidates {
			if keep[k] {
				continue
			}
			if err := p.Delete(ctx, node.Key(k)); err != nil {
				return fmt.Errorf("delete %s: %w", node.Key(k), err)
			}
			removed++
		}
		for _, k := range ours {
			if err := p.Delete(ctx, k); err != nil {
				return fmt.Errorf("delete %s: %w", k, err)
			}
		}
	}
	klog.FromContext(ctx).Info("Remote backup deleted", "snapshot", tag, "dataObjects", removed)
	return nil
}

// findTopology returns the newest topology file of the cluster and tag.
func findTopology(ctx context.Context, p storage.Provider, cluster, tag string) (string, bool, error) {
	keys, err := storage.Keys(ctx, p, layout.TopologyDir+"/"+cluster+"-"+tag+"-")
	if err != nil {
		return "", false, err
	}
	ref, ok := layout.LatestTopology(keys, cluster, tag)
	return ref.Key, ok, nil
}
