package restore

import (
	"errors"

	corev1 "k8s.io/api/core/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// ReasonUnknownProfile: the datacenter's profile annotation names no known pod profile.
const ReasonUnknownProfile = "UnknownProfile"

// ProfilePodName names a CassandraDataCenter's pods the way the operator of profile p
// does, from the datacenter's spec.cluster, spec.datacenter (its name when empty) and name.
func ProfilePodName(p profile.Profile) PodNameFunc {
	return func(dc *v1alpha1.CassandraDataCenter, rack string, ordinal int) string {
		name := dc.Spec.Datacenter
		if name == "" {
			name = dc.Name
		}
		return p.PodName(profile.NameParts{Cluster: dc.Spec.Cluster, Datacenter: name, Resource: dc.Name, Rack: rack, Ordinal: ordinal})
	}
}

// podNameFor returns how dc's pods are named: Options.PodName when set, else by the
// profile dc's annotation names, else by the default profile. An unknown profile fails
// the plan permanently (until the annotation changes), with a condition and an event.
func (c *Controller) podNameFor(dc *v1alpha1.CassandraDataCenter) (PodNameFunc, error) {
	if c.podName != nil {
		return c.podName, nil
	}
	p, err := c.profiles.ForObject(dc.Annotations)
	if err != nil {
		st := status(dc)
		st.State = v1alpha1.RestoreFailed
		reconciler.SetCondition(&st.Conditions, reconciler.Ready(false, ReasonUnknownProfile, err.Error(), dc.Generation))
		c.event(dc, corev1.EventTypeWarning, ReasonUnknownProfile, err.Error())
		return nil, reconciler.Permanent(reconciler.WithReason(ReasonUnknownProfile, errors.New(err.Error())))
	}
	return ProfilePodName(p), nil
}
