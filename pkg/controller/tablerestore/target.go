package tablerestore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// live is a running node of the target datacenter: its pod and its identity.
type live struct {
	pod *corev1.Pod
	id  api.Identity
}

// start maps the datacenter's nodes to the backup's and records the mapping, phase CHECK,
// before any agent is asked to do anything.
func (c *Controller) start(ctx context.Context, ev *event) (reconciler.Result, error) {
	r := ev.Object
	st := &r.Status
	// A restore refused before any node was mapped (an unreachable agent, a topology
	// that did not match) starts over when spec.retry is raised.
	again := st.State == v1alpha1.TableRestoreFailed && r.Spec.Retry > st.Retried
	if len(st.Nodes) > 0 || final(st.State) && !again {
		return reconciler.Result{}, nil
	}
	b, err := c.backupOf(r)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(reconciler.WithReason(ReasonBackupNotReady, err), 10*time.Second)
	}
	cluster, dc, err := c.target(r, b)
	if err != nil {
		return reconciler.Result{}, err
	}
	nodes, err := c.liveNodes(ctx, r, cluster, dc)
	if err != nil {
		return reconciler.Result{}, err
	}
	sources, err := c.sources(ctx, r, b)
	if err != nil {
		return reconciler.Result{}, reconciler.Temporary(err, 30*time.Second)
	}
	same := cluster == b.Spec.Cluster && dc == b.Spec.Datacenter
	pairs, err := mapNodes(sources, nodes, same)
	if err != nil {
		return reconciler.Result{}, c.refuse(r, ReasonTopologyMismatch, "%v; restoring onto a differently shaped ring is not supported", err)
	}
	var bad []string
	for _, p := range pairs {
		if !sameTokens(p.src.Manifest.Tokens, p.dst.id.Tokens) {
			bad = append(bad, fmt.Sprintf("node %s (host %s) has %d tokens that differ from backed-up node %s's %d",
				p.dst.pod.Name, p.dst.id.HostID, len(p.dst.id.Tokens), p.src.Host.Hostname, len(p.src.Manifest.Tokens)))
		}
	}
	if len(bad) > 0 {
		return reconciler.Result{}, c.refuse(r, ReasonTokensMismatch, "token ranges differ: %s; a live restore needs the backup's ring", strings.Join(bad, "; "))
	}
	now := metav1.NewTime(c.cfg.Now().Truncate(time.Second))
	for _, p := range pairs {
		st.Nodes = append(st.Nodes, v1alpha1.NodeTableRestoreStatus{Node: p.dst.pod.Name, SourceNode: p.src.Host.Hostname,
			SourceHostID: p.src.Host.NodeID, State: v1alpha1.TableRestorePending, Phase: v1alpha1.TableRestoreCheck})
	}
	st.Snapshot = b.Status.Snapshot
	st.Phase = v1alpha1.TableRestoreCheck
	st.State = v1alpha1.TableRestoreRunning
	st.Progress = "0%"
	st.StartTime = &now
	st.CompletionTime = nil
	reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonRestoring, fmt.Sprintf("restoring %s into %d nodes", r.Spec.Entities, len(pairs)), r.Generation))
	return reconciler.Result{}, nil
}

// target returns the cluster and datacenter to restore into: the spec's, else the
// CassandraDataCenter's, else the backup's.
func (c *Controller) target(r *v1alpha1.CassandraRestore, b *v1alpha1.CassandraBackup) (cluster, dc string, err error) {
	cluster, dc = r.Spec.Cluster, r.Spec.Datacenter
	if r.Spec.CDC != "" {
		cdc, err := c.dcs.CassandraDataCenters(r.Namespace).Get(r.Spec.CDC)
		switch {
		case apierrors.IsNotFound(err):
			return "", "", reconciler.Temporary(reconciler.Reasonf(ReasonNoPods, "CassandraDataCenter %s not found", r.Spec.CDC), 30*time.Second)
		case err != nil:
			return "", "", err
		}
		cluster, dc = cmpOr(cluster, cdc.Spec.Cluster), cmpOr(dc, cdc.Spec.Datacenter)
	}
	return cmpOr(cluster, b.Spec.Cluster), cmpOr(dc, b.Spec.Datacenter), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// liveNodes returns the running pods of the target datacenter with their identities.
func (c *Controller) liveNodes(ctx context.Context, r *v1alpha1.CassandraRestore, cluster, dc string) ([]live, error) {
	var pods []*corev1.Pod
	for _, p := range c.profiles.All() {
		ps, err := c.pods.Pods(r.Namespace).List(p.Labels.Selector(cluster, dc))
		if err != nil {
			return nil, err
		}
		for _, pod := range ps {
			if pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "" {
				pods = append(pods, pod)
			}
		}
		if len(pods) > 0 {
			if err := c.truncatable(r, p); err != nil {
				return nil, err
			}
			break
		}
	}
	if len(pods) == 0 {
		return nil, reconciler.Temporary(reconciler.Reasonf(ReasonNoPods, "no running pod of cluster %s, datacenter %s in namespace %s", cluster, dc, r.Namespace), 10*time.Second)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	out := make([]live, 0, len(pods))
	for _, pod := range pods {
		addr, err := c.cfg.AgentAddress(pod)
		if err != nil {
			return nil, err
		}
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		id, err := c.cfg.Agents.For(r.Namespace).Identity(ictx, addr)
		cancel()
		if err != nil {
			return nil, c.identityFailed(r, pod.Name, err)
		}
		c.forget(r, pod.Name)
		out = append(out, live{pod: pod, id: id})
	}
	return out, nil
}

// sources reads the backup's nodes of its datacenter from the bucket: host, rack, tokens.
func (c *Controller) sources(ctx context.Context, r *v1alpha1.CassandraRestore, b *v1alpha1.CassandraBackup) ([]layout.NodeBackup, error) {
	cfg := c.cfg.Storage
	cfg.Insecure = b.Spec.Insecure
	if s := cmpOr(r.Spec.Secret, b.Spec.Secret); s != "" {
		cfg.Credentials = c.secrets.Source(r.Namespace, s)
	}
	p, _, err := storage.OpenLocation(ctx, b.Spec.StorageLocation, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.Spec.StorageLocation, err)
	}
	defer p.Close()
	_, nodes, err := layout.Catalog{Storage: p}.Backup(ctx, b.Spec.Cluster, b.Spec.Datacenter, b.Status.Snapshot)
	return nodes, err
}

// pair is a live node and the backed-up node whose data it takes.
type pair struct {
	src layout.NodeBackup
	dst live
}

// mapNodes pairs every backed-up node with a live one: by host id when restoring into the
// source datacenter and every backed-up host id is live, else by rack, then by ordinal
// (name order) within the rack. The counts per rack must agree.
func mapNodes(sources []layout.NodeBackup, nodes []live, sameDC bool) ([]pair, error) {
	if len(sources) != len(nodes) {
		return nil, fmt.Errorf("the backup has %d nodes, the datacenter %d", len(sources), len(nodes))
	}
	if sameDC {
		byHost := map[string]live{}
		for _, n := range nodes {
			byHost[n.id.HostID] = n
		}
		var out []pair
		for _, s := range sources {
			n, ok := byHost[s.Host.NodeID]
			if !ok {
				out = nil
				break
			}
			out = append(out, pair{s, n})
		}
		if out != nil {
			return out, nil
		}
	}
	srcRacks, dstRacks := map[string][]layout.NodeBackup{}, map[string][]live{}
	for _, s := range sources {
		srcRacks[s.Host.Rack] = append(srcRacks[s.Host.Rack], s)
	}
	for _, n := range nodes {
		dstRacks[n.id.Rack] = append(dstRacks[n.id.Rack], n)
	}
	var out []pair
	for _, rack := range slices.Sorted(maps.Keys(srcRacks)) {
		ss, ds := srcRacks[rack], dstRacks[rack]
		if len(ds) != len(ss) {
			return nil, fmt.Errorf("rack %q has %d nodes in the backup and %d in the datacenter", rack, len(ss), len(ds))
		}
		sort.Slice(ss, func(i, j int) bool { return ss[i].Host.Hostname < ss[j].Host.Hostname })
		sort.Slice(ds, func(i, j int) bool { return ds[i].pod.Name < ds[j].pod.Name })
		for i := range ss {
			out = append(out, pair{ss[i], ds[i]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dst.pod.Name < out[j].dst.pod.Name })
	return out, nil
}

// sameTokens reports whether two token lists hold the same tokens.
func sameTokens(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// truncatable refuses spec.truncate on pods whose node control cannot truncate a table:
// the Management API has no table truncate (cass-operator pods), so the restore is refused
// before anything runs instead of failing in its TRUNCATE phase.
func (c *Controller) truncatable(r *v1alpha1.CassandraRestore, p profile.Profile) error {
	if !r.Spec.Truncate || p.NodeControl != profile.ManagementAPI {
		return nil
	}
	return c.refuse(r, ReasonTruncateUnsupported, "spec.truncate: the %s pods' node control (%s) has no table truncate; truncate the tables with CQL (TRUNCATE) first and restore without spec.truncate", p.Name, p.NodeControl)
}
