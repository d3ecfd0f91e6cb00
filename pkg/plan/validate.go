package plan

import (
	"fmt"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
)

// Validate checks what the plan took from the bucket before anything uses it: the source
// cluster and datacenter names, and per pod the host id, the source node's name and its
// tokens (decimal integers in [-2^63, 2^127): they become JVM options and YAML). The
// error names the bad value.
func (p *Plan) Validate() error {
	if err := layout.ValidateName("source cluster", p.SourceCluster); err != nil {
		return err
	}
	if err := layout.ValidateName("source datacenter", p.SourceDatacenter); err != nil {
		return err
	}
	for _, name := range p.PodNames() {
		pp := p.Pods[name]
		if err := pp.validate(); err != nil {
			return fmt.Errorf("pod %s: %w", name, err)
		}
	}
	return nil
}

func (pp PodPlan) validate() error {
	if err := layout.ValidateHostID(pp.HostID); err != nil {
		return err
	}
	if err := layout.ValidateName("source node", pp.SourceNode); err != nil {
		return err
	}
	if pp.Rack != "" {
		if err := layout.ValidateName("rack", pp.Rack); err != nil {
			return err
		}
	}
	if len(pp.Tokens) == 0 {
		return fmt.Errorf("no tokens")
	}
	if err := layout.ValidateTokens("", pp.Tokens); err != nil {
		return err
	}
	if _, err := layout.ParseManifestKey(pp.ManifestKey()); err != nil {
		return fmt.Errorf("restore key %q: %w", pp.RestoreKey, err)
	}
	loc, _, _ := ParseRestoreKey(pp.RestoreKey)
	keys := []string{pp.ManifestKey()}
	for _, s := range pp.More {
		if err := s.validate(); err != nil {
			return fmt.Errorf("source %s: %w", s.SourceNode, err)
		}
		keys = append(keys, s.ManifestKey)
	}
	if want := RestoreKey(loc, keys...); pp.RestoreKey != want {
		return fmt.Errorf("restore key %q does not name the pod's %d sources (want %q)", pp.RestoreKey, len(keys), want)
	}
	return nil
}

func (s Source) validate() error {
	if err := layout.ValidateHostID(s.HostID); err != nil {
		return err
	}
	if err := layout.ValidateName("source node", s.SourceNode); err != nil {
		return err
	}
	if s.Rack != "" {
		if err := layout.ValidateName("rack", s.Rack); err != nil {
			return err
		}
	}
	if _, err := layout.ParseManifestKey(s.ManifestKey); err != nil {
		return err
	}
	if strings.Contains(s.ManifestKey, "|") {
		return fmt.Errorf("manifest key %q holds a |", s.ManifestKey)
	}
	return nil
}
