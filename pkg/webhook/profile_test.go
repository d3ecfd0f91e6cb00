package webhook

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

func newIndexer(objs ...any) cache.Indexer {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		idx.Add(o)
	}
	return idx
}

// TestLookupProfiles finds a pod's datacenter through the labels of its profile: the
// guide's Instaclustr labels and cass-operator's.
func TestLookupProfiles(t *testing.T) {
	dc := testDC(true)
	l := &CacheLookup{Datacenters: listers.NewCassandraDataCenterLister(newIndexer(dc)), ConfigMaps: corelisters.NewConfigMapLister(newIndexer())}
	cass := func(p *corev1.Pod) {
		p.Labels = map[string]string{profile.CassOperatorCluster: "clone", profile.CassOperatorDatacenter: "dc1", profile.CassOperatorRack: "rack1"}
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"instaclustr labels", testPod("cassandra-test-dc-cassandra-rack1-0"), true},
		{"cass-operator labels", testPod("clone-dc1-rack1-sts-0", cass), true},
		{"cass-operator labels of another cluster", testPod("other-dc1-rack1-sts-0", cass, func(p *corev1.Pod) { p.Labels[profile.CassOperatorCluster] = "other" }), false},
		{"no profile's labels", testPod("x", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "cassandra"} }), false},
		{"a profile annotation that does not match the labels", testPod("clone-dc1-rack1-sts-0", cass, func(p *corev1.Pod) {
			p.Annotations = map[string]string{profile.Annotation: profile.Instaclustr}
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Datacenter(tc.pod)
			if err != nil || (got != nil) != tc.want {
				t.Errorf("Datacenter = %v, %v; want found %v", got, err, tc.want)
			}
		})
	}
}

// TestConfigForProfile takes the Cassandra container and data directory from the pod's
// profile, and warns about an annotation naming an unknown profile.
func TestConfigForProfile(t *testing.T) {
	custom := profile.CassOperatorProfile
	custom.Container, custom.DataDir = "server", "/data/cassandra"
	s := &Server{Profiles: profile.Registry{Profiles: []profile.Profile{profile.InstaclustrProfile, custom}}}
	pod := testPod("p", func(p *corev1.Pod) { p.Labels = map[string]string{profile.CassOperatorDatacenter: "dc1"} })
	cfg, warnings := s.configFor(pod)
	if cfg.CassandraContainer != "server" || cfg.DataDir != "/data/cassandra/data" || len(warnings) != 0 {
		t.Errorf("cass-operator pod: container %q, data %q, warnings %v", cfg.CassandraContainer, cfg.DataDir, warnings)
	}
	pod.Annotations = map[string]string{profile.Annotation: "nosuch"}
	if cfg, warnings := s.configFor(pod); cfg.CassandraContainer != "server" || len(warnings) != 1 || !strings.Contains(warnings[0], "nosuch") {
		t.Errorf("unknown profile annotation: container %q, warnings %v", cfg.CassandraContainer, warnings)
	}
	s.Config.CassandraContainer = "explicit"
	if cfg, _ := s.configFor(pod); cfg.CassandraContainer != "explicit" {
		t.Errorf("the operator's explicit container lost to the profile's: %q", cfg.CassandraContainer)
	}
	if cfg, _ := s.configFor(testPod("x", func(p *corev1.Pod) { p.Labels = nil })); cfg.DataDir != "" {
		t.Errorf("pod of no profile: data dir %q", cfg.DataDir)
	}
}
