package restore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
)

// Reasons and types of the conditions of a restore onto another topology.
const (
	// ReasonRackUnmapped: the backup's racks cannot be mapped onto the datacenter's.
	ReasonRackUnmapped = "RackUnmapped"
	// ReasonInsufficientDisk: a pod's volume is smaller than the data planned for it.
	ReasonInsufficientDisk = "InsufficientDisk"
	// TypeRepairRequired is True when pods restore several backed-up nodes each: replica
	// placement changed, and a full repair must run once the datacenter is up.
	TypeRepairRequired = "RepairRequired"
	// ReasonUnionOfNodes: RepairRequired is True because pods restore several nodes.
	ReasonUnionOfNodes = "UnionOfNodes"
)

// ErrInsufficientDisk is returned by checkDisk when a pod's volume is too small.
var ErrInsufficientDisk = errors.New("not enough disk")

// podPlan is the plan of a pod restoring the nodes ss: the first is its source node, the
// others More, its tokens the union of theirs.
func podPlan(location string, ss []SourceNode) plan.PodPlan {
	first := ss[0]
	pp := plan.PodPlan{SourceNode: first.Hostname, Rack: first.Rack, HostID: first.HostID}
	keys := []string{first.ManifestKey}
	for _, s := range ss {
		pp.Tokens = append(pp.Tokens, s.Tokens...)
	}
	for _, s := range ss[1:] {
		pp.More = append(pp.More, plan.Source{SourceNode: s.Hostname, Rack: s.Rack, HostID: s.HostID, ManifestKey: s.ManifestKey})
		keys = append(keys, s.ManifestKey)
	}
	pp.RestoreKey = plan.RestoreKey(location, keys...)
	return pp
}

// setRepairRequired sets RepairRequired True, naming the pods that restore several nodes,
// or removes it when none does.
func setRepairRequired(st *v1alpha1.RestoreStatus, p *plan.Plan, generation int64) {
	var unions []string
	for _, name := range p.PodNames() {
		if pp := p.Pods[name]; len(pp.More) > 0 {
			unions = append(unions, fmt.Sprintf("%s ← %s", name, strings.Join(pp.SourceNodes(), "+")))
		}
	}
	if len(unions) == 0 {
		meta.RemoveStatusCondition(&st.Conditions, TypeRepairRequired)
		return
	}
	msg := fmt.Sprintf("%d pods restore several backed-up nodes each (%s): replica placement changed, run a full repair (nodetool repair -full) on every node once the datacenter is up",
		len(unions), strings.Join(unions, ", "))
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: TypeRepairRequired, Status: metav1.ConditionTrue, Reason: ReasonUnionOfNodes, Message: msg, ObservedGeneration: generation})
}

// checkDisk compares the data planned for each pod with its volume: the largest storage
// request of its StatefulSet's volumeClaimTemplates (the StatefulSet is the pod's name
// without its ordinal). A pod whose StatefulSet cannot be read is not checked; the
// returned note says so. The error names every pod that does not fit.
func (c *Controller) checkDisk(ctx context.Context, ns string, targets []Target, pairs map[string][]SourceNode) (note string, err error) {
	capacity := map[string]*resource.Quantity{} // by StatefulSet
	var unchecked, short []string
	for _, t := range targets {
		ss := pairs[t.Pod]
		if len(ss) == 0 {
			continue
		}
		sts := strings.TrimSuffix(t.Pod, fmt.Sprintf("-%d", t.Ordinal))
		q, ok := capacity[sts]
		if !ok {
			q, err = c.volumeSize(ctx, ns, sts)
			if err != nil {
				return "", err
			}
			capacity[sts] = q
		}
		if q == nil {
			unchecked = append(unchecked, t.Pod)
			continue
		}
		var need int64
		for _, s := range ss {
			need += s.Bytes
		}
		if need > q.Value() {
			short = append(short, fmt.Sprintf("%s needs %s for %s, its volume has %s", t.Pod, resource.NewQuantity(need, resource.BinarySI), hostnames(ss), q))
		}
	}
	if len(short) > 0 {
		sort.Strings(short)
		return "", fmt.Errorf("%w: %s", ErrInsufficientDisk, strings.Join(short, "; "))
	}
	if len(unchecked) > 0 {
		note = fmt.Sprintf("; disk space not checked for %d pods (no StatefulSet with a volumeClaimTemplate readable yet)", len(unchecked))
	}
	return note, nil
}

// volumeSize returns the largest storage request of the StatefulSet's volumeClaimTemplates,
// or nil when the StatefulSet does not exist, may not be read or has none.
func (c *Controller) volumeSize(ctx context.Context, ns, name string) (*resource.Quantity, error) {
	sts, err := c.kube.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get statefulset %s: %w", name, err)
	}
	var best *resource.Quantity
	for _, pvc := range sts.Spec.VolumeClaimTemplates {
		if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; ok && (best == nil || q.Cmp(*best) > 0) {
			best = &q
		}
	}
	return best, nil
}
