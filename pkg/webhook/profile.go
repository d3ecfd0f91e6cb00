package webhook

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

// podProfile returns the pod's profile (see profile.Registry.ForPod). An annotation that
// names an unknown profile is ignored here; configFor warns about it.
func podProfile(r profile.Registry, pod *corev1.Pod) (profile.Profile, bool) {
	p, ok, err := r.ForPod(pod.Labels, pod.Annotations)
	if err != nil {
		p, ok, _ = r.ForPod(pod.Labels, nil)
	}
	return p, ok
}

// configFor returns the injection configuration of pod: the Cassandra container and data
// directory of its profile where s.Config leaves them empty, and a warning for an
// annotation that names an unknown profile.
func (s *Server) configFor(pod *corev1.Pod) (Config, []string) {
	cfg := s.Config
	var warnings []string
	if _, _, err := s.Profiles.ForPod(pod.Labels, pod.Annotations); err != nil {
		warnings = append(warnings, err.Error()+"; the profile is detected from the labels")
	}
	p, ok := podProfile(s.Profiles, pod)
	if !ok {
		return cfg, warnings
	}
	if cfg.CassandraContainer == "" {
		cfg.CassandraContainer = p.Container
	}
	if cfg.DataDir == "" {
		cfg.DataDir = p.DataFileDir()
	}
	return cfg, warnings
}
