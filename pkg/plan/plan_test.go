package plan

import (
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

const (
	id1 = "11111111-1111-4111-8111-111111111111"
	id2 = "22222222-2222-4222-8222-222222222222"
	mk1 = "c/dc1/" + id1 + "/manifests/t-" + sv + "-1.json"
	mk2 = "c/dc1/" + id2 + "/manifests/t-" + sv + "-1.json"
	sv  = "33333333-3333-4333-8333-333333333333"
)

// TestPodPlanSeveralSources: a pod restoring two nodes names both in its restore key, its
// first manifest stays what ManifestKey returns, and Validate refuses a key that does not
// name every source.
func TestPodPlanSeveralSources(t *testing.T) {
	pp := PodPlan{SourceNode: "n-0", HostID: id1, RestoreKey: RestoreKey("s3://b", mk1, mk2), Tokens: []string{"1", "2"},
		More: []Source{{SourceNode: "n-1", HostID: id2, ManifestKey: mk2}}}
	p := &Plan{SourceCluster: "c", SourceDatacenter: "dc1", Pods: map[string]PodPlan{"pod-0": pp}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if pp.ManifestKey() != mk1 || strings.Join(pp.SourceNodes(), ",") != "n-0,n-1" {
		t.Errorf("ManifestKey %q, SourceNodes %v", pp.ManifestKey(), pp.SourceNodes())
	}
	for name, bad := range map[string]PodPlan{
		"key names one source":   {SourceNode: pp.SourceNode, HostID: id1, RestoreKey: RestoreKey("s3://b", mk1), Tokens: pp.Tokens, More: pp.More},
		"source with a bad id":   {SourceNode: pp.SourceNode, HostID: id1, RestoreKey: pp.RestoreKey, Tokens: pp.Tokens, More: []Source{{SourceNode: "n-1", HostID: "x", ManifestKey: mk2}}},
		"one source, two keys":   {SourceNode: pp.SourceNode, HostID: id1, RestoreKey: pp.RestoreKey, Tokens: pp.Tokens},
		"source with bad a name": {SourceNode: pp.SourceNode, HostID: id1, RestoreKey: pp.RestoreKey, Tokens: pp.Tokens, More: []Source{{SourceNode: "n;1", HostID: id2, ManifestKey: mk2}}},
	} {
		p.Pods["pod-0"] = bad
		if err := p.Validate(); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
	// An old plan (one source, no More) still validates.
	p.Pods["pod-0"] = PodPlan{SourceNode: "n-0", HostID: id1, RestoreKey: RestoreKey("s3://b", mk1), Tokens: []string{"1"}}
	if err := p.Validate(); err != nil {
		t.Errorf("one-source plan: %v", err)
	}
}

// TestForRackMap: a plan is for the spec.restore it was made with, map fields included.
func TestForRackMap(t *testing.T) {
	p := &Plan{Restore: v1alpha1.RestoreSpec{BackupName: "b", RackMap: map[string]string{"a": "x"}, IncludeAuth: true}}
	if !p.For(&v1alpha1.RestoreSpec{BackupName: "b", RackMap: map[string]string{"a": "x"}, IncludeAuth: true}) {
		t.Error("same spec.restore: not For")
	}
	if p.For(&v1alpha1.RestoreSpec{BackupName: "b", RackMap: map[string]string{"a": "y"}, IncludeAuth: true}) || p.For(&v1alpha1.RestoreSpec{BackupName: "b", RackMap: map[string]string{"a": "x"}}) {
		t.Error("another spec.restore: For")
	}
	empty := &Plan{Restore: v1alpha1.RestoreSpec{BackupName: "b"}}
	if !empty.For(&v1alpha1.RestoreSpec{BackupName: "b", RackMap: map[string]string{}}) {
		t.Error("an empty rackMap is no rackMap")
	}
}
