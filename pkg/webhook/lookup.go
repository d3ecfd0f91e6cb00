package webhook

import (
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassdc"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

// Lookup finds what the mutation needs for a pod. Implementations must not do I/O beyond
// reading caches: admission waits on them.
type Lookup interface {
	// Datacenter returns the pod's CassandraDataCenter, or nil when the pod belongs to none.
	Datacenter(pod *corev1.Pod) (*v1alpha1.CassandraDataCenter, error)
	// Plan returns the restore plan of dc, or nil when there is none.
	Plan(dc *v1alpha1.CassandraDataCenter) (*plan.Plan, error)
}

// CacheLookup reads datacenters and plans from informer caches.
type CacheLookup struct {
	// Datacenters lists CassandraDataCenters.
	Datacenters listers.CassandraDataCenterLister
	// ConfigMaps lists the plan ConfigMaps.
	ConfigMaps corelisters.ConfigMapLister
	// Profiles detect a pod's profile, whose labels hold its datacenter (the
	// CassandraDataCenter's spec.datacenter, or its name) and its cluster.
	Profiles profile.Registry
	// CassDatacenters, when set, caches cass-operator's CassandraDatacenters: a pod that no
	// CassandraDataCenter of ours matches is matched against their views (cassdc.View).
	CassDatacenters cache.Indexer

	// MaxDecodedPlans bounds the decoded plans kept; DefaultMaxDecodedPlans when 0.
	MaxDecodedPlans int

	// decoded caches decoded plans by ConfigMap uid, for the resourceVersion decoded.
	decoded     planCache
	decodedOnce sync.Once
}

// decodedPlan is a plan decoded from one resourceVersion of its ConfigMap.
type decodedPlan struct {
	resourceVersion string
	plan            *plan.Plan
	err             error
}

// Datacenter finds the datacenter whose name or spec.datacenter is the pod's datacenter
// label, in the pod's namespace, and whose spec.cluster is the pod's cluster label when
// both are set. Among several, the one named by the label wins, then the one with a
// restore plan listing the pod.
func (l *CacheLookup) Datacenter(pod *corev1.Pod) (*v1alpha1.CassandraDataCenter, error) {
	prof, ok := podProfile(l.Profiles, pod)
	if !ok {
		return nil, nil
	}
	dcLabel, clLabel := prof.Labels.Datacenter, prof.Labels.Cluster
	want, ok := pod.Labels[dcLabel]
	if !ok || want == "" {
		return nil, nil
	}
	cluster := pod.Labels[clLabel]
	all, err := l.Datacenters.CassandraDataCenters(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list datacenters of %s: %w", pod.Namespace, err)
	}
	found := matching(all, want, cluster)
	if len(found) == 0 && l.CassDatacenters != nil {
		views, err := l.cassDatacenters(pod.Namespace)
		if err != nil {
			return nil, err
		}
		found = matching(views, want, cluster)
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	for _, dc := range found {
		if dc.Name == want {
			return dc, nil
		}
	}
	for _, dc := range found {
		if p, _ := l.Plan(dc); p != nil {
			if _, ok := p.Pods[pod.Name]; ok {
				return dc, nil
			}
		}
	}
	return found[0], nil
}

// matching returns the datacenters whose name or spec.datacenter is want and whose
// spec.cluster is cluster when both are set.
func matching(all []*v1alpha1.CassandraDataCenter, want, cluster string) []*v1alpha1.CassandraDataCenter {
	var found []*v1alpha1.CassandraDataCenter
	for _, dc := range all {
		if dc.Name != want && dc.Spec.Datacenter != want {
			continue
		}
		if cluster != "" && dc.Spec.Cluster != "" && dc.Spec.Cluster != cluster && profile.DNSName(dc.Spec.Cluster) != cluster {
			continue
		}
		found = append(found, dc)
	}
	return found
}

// cassDatacenters returns the views of the cached CassandraDatacenters of ns; one whose
// spec does not read is skipped (the controller reports it).
func (l *CacheLookup) cassDatacenters(ns string) ([]*v1alpha1.CassandraDataCenter, error) {
	objs, err := l.CassDatacenters.ByIndex(cache.NamespaceIndex, ns)
	if err != nil {
		return nil, fmt.Errorf("list CassandraDatacenters of %s: %w", ns, err)
	}
	var out []*v1alpha1.CassandraDataCenter
	for _, o := range objs {
		if u, ok := o.(*unstructured.Unstructured); ok {
			if dc, err := cassdc.View(u); err == nil {
				out = append(out, dc)
			}
		}
	}
	return out, nil
}

// Plan returns the plan of dc from the cached ConfigMap, or nil. Decoded plans are kept
// per ConfigMap resourceVersion, so admission does not decode a large plan every time.
func (l *CacheLookup) Plan(dc *v1alpha1.CassandraDataCenter) (*plan.Plan, error) {
	cm, err := l.ConfigMaps.ConfigMaps(dc.Namespace).Get(plan.ConfigMapName(dc.Name))
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("restore plan of %s/%s: %w", dc.Namespace, dc.Name, err)
	}
	// Only a plan this datacenter owns counts: a same-named ConfigMap left by a deleted
	// datacenter is not its plan.
	owned := false
	for _, o := range cm.OwnerReferences {
		owned = owned || o.UID == dc.UID
	}
	if !owned {
		return nil, nil
	}
	l.decodedOnce.Do(func() { l.decoded.max = l.MaxDecodedPlans })
	if d, ok := l.decoded.get(cm.UID, cm.ResourceVersion); ok {
		return d.plan, d.err
	}
	p, err := plan.Decode(cm)
	l.decoded.put(cm.UID, &decodedPlan{resourceVersion: cm.ResourceVersion, plan: p, err: err})
	return p, err
}
