package backup

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// ReasonUnknownProfile: the backup's profile annotation names no known pod profile.
const ReasonUnknownProfile = "UnknownProfile"

// podsOf returns the running pods of the backup's datacenter, sorted by name, and the
// labels of the profile that found them: the profile its annotation names, else the first
// profile (the default first) with running pods labelled with the backup's cluster and
// datacenter. With no pods, the labels are the default profile's.
func (c *Controller) podsOf(b *v1alpha1.CassandraBackup) ([]*corev1.Pod, profile.Labels, error) {
	candidates := c.profiles.All()
	p, ok, err := c.profiles.Override(b.Annotations)
	if err != nil {
		return nil, profile.Labels{}, reconciler.Permanent(reconciler.WithReason(ReasonUnknownProfile, err))
	}
	if ok {
		candidates = []profile.Profile{p}
	}
	for _, p := range candidates {
		pods, err := c.pods.Pods(b.Namespace).List(p.Labels.Selector(b.Spec.Cluster, b.Spec.Datacenter))
		if err != nil {
			return nil, profile.Labels{}, fmt.Errorf("list pods: %w", err)
		}
		var out []*corev1.Pod
		for _, p := range pods {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				out = append(out, p)
			}
		}
		if len(out) > 0 {
			sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
			return out, p.Labels, nil
		}
	}
	return nil, candidates[0].Labels.OrDefault(), nil
}

// rackOf returns the rack label of pod, under the rack label key of any profile.
func (c *Controller) rackOf(pod *corev1.Pod) string {
	for _, p := range c.profiles.All() {
		if v := pod.Labels[p.Labels.Rack]; v != "" {
			return v
		}
	}
	return ""
}
