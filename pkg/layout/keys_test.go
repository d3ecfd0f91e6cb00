package layout

import (
	"strings"
	"testing"
	"time"
)

const sv = "59adb24e-f3cd-3e02-97f0-5b395827453f"

func TestKeys(t *testing.T) {
	n := Node{Cluster: "test-cluster", Datacenter: "dc1", HostID: "6b3f1c0e-0000-4000-8000-000000000001"}
	at := time.UnixMilli(1764201600123)
	tests := []struct{ got, want string }{
		{n.Prefix(), "test-cluster/dc1/6b3f1c0e-0000-4000-8000-000000000001"},
		{n.ManifestKey("my-tag", sv, at), "test-cluster/dc1/6b3f1c0e-0000-4000-8000-000000000001/manifests/my-tag-" + sv + "-1764201600123.json"},
		{SSTableKey("ks", "t-0123456789abcdef0123456789abcdef", "", "2", "3898601042", "nb-2-big-Data.db"), "data/ks/t-0123456789abcdef0123456789abcdef/2-3898601042/nb-2-big-Data.db"},
		{SSTableKey("ks", "t-0123456789abcdef0123456789abcdef", ".t_idx", "2", "1", "nb-2-big-Data.db"), "data/ks/t-0123456789abcdef0123456789abcdef/.t_idx/2-1/nb-2-big-Data.db"},
		{n.Key(SchemaKey("ks", "t-0123456789abcdef0123456789abcdef")), "test-cluster/dc1/6b3f1c0e-0000-4000-8000-000000000001/data/ks/t-0123456789abcdef0123456789abcdef/schema.cql"},
		{TopologyKey("test-cluster", "my-tag", sv, at), "topology/test-cluster-my-tag-" + sv + "-1764201600123-topology.json"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
	for _, bad := range []Node{{"", "dc", "h"}, {"c", "..", "h"}, {"c", "dc", "a/b"}, {"c", "d\nc", "h"}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
	if err := n.Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseManifestKey(t *testing.T) {
	tests := []struct {
		key     string
		want    Ref
		wantErr bool
	}{
		{key: "c/dc/h/manifests/tag1-" + sv + "-1700000000000.json", want: Ref{Tag: "tag1", SchemaVersion: sv, EpochMillis: 1700000000000}},
		{key: "my-tag-2026-11-27-" + sv + "-5.json", want: Ref{Tag: "my-tag-2026-11-27", SchemaVersion: sv, EpochMillis: 5}},
		{key: "tag1-" + sv + "-1700000000000.txt", wantErr: true},
		{key: "tag1-1700000000000.json", wantErr: true},
		{key: "-" + sv + "-1.json", wantErr: true},
		{key: "tag1-" + sv + "-x.json", wantErr: true},
		{key: "tag1-" + sv + "--1.json", wantErr: true},
		{key: "tag1" + sv + "-1.json", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseManifestKey(tt.key)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.key, err, tt.wantErr)
			continue
		}
		tt.want.Key = tt.key
		if !tt.wantErr && got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.key, got, tt.want)
		}
	}
}

func TestParseTopologyKey(t *testing.T) {
	tests := []struct {
		key, cluster string
		tag          string
		ms           int64
		wantErr      bool
	}{
		{key: "topology/test-cluster-tag1-" + sv + "-42-topology.json", cluster: "test-cluster", tag: "tag1", ms: 42},
		{key: "topology/test-cluster-a-b-" + sv + "-42-topology.json", cluster: "test-cluster", tag: "a-b", ms: 42},
		{key: "topology/test-cluster-tag1-" + sv + "-42-topology.json", cluster: "test", tag: "cluster-tag1", ms: 42},
		{key: "topology/other-tag1-" + sv + "-42-topology.json", cluster: "test-cluster", wantErr: true},
		{key: "topology/test-cluster-tag1-" + sv + "-42.json", cluster: "test-cluster", wantErr: true},
		{key: "topology/test-cluster-" + sv + "-42-topology.json", cluster: "test-cluster", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTopologyKey(tt.key, tt.cluster)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.key, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && (got.Tag != tt.tag || got.EpochMillis != tt.ms || got.SchemaVersion != sv) {
			t.Errorf("%s: got %+v", tt.key, got)
		}
	}
}

func TestLatest(t *testing.T) {
	n := Node{Cluster: "c", Datacenter: "dc1", HostID: "h"}
	other := "11111111-2222-3333-4444-555555555555"
	keys := []string{
		n.ManifestKey("tag1", sv, time.UnixMilli(100)),
		n.ManifestKey("tag1", other, time.UnixMilli(300)),
		n.ManifestKey("tag1", sv, time.UnixMilli(200)),
		n.ManifestKey("tag2", sv, time.UnixMilli(900)),
		n.ManifestKey("tag", sv, time.UnixMilli(999)),
		n.Prefix() + "/manifests/garbage.json",
		TopologyKey("c", "tag1", sv, time.UnixMilli(50)),
		TopologyKey("c", "tag1", sv, time.UnixMilli(70)),
		TopologyKey("c", "tag2", sv, time.UnixMilli(90)),
	}
	got, ok := LatestManifest(keys, "tag1")
	if !ok || got.EpochMillis != 300 || got.SchemaVersion != other || got.Key != keys[1] {
		t.Errorf("LatestManifest(tag1) = %+v, %v", got, ok)
	}
	if _, ok := LatestManifest(keys, "tag3"); ok {
		t.Error("LatestManifest found a missing tag")
	}
	top, ok := LatestTopology(keys, "c", "tag1")
	if !ok || top.EpochMillis != 70 || top.Time() != time.UnixMilli(70).UTC() {
		t.Errorf("LatestTopology(tag1) = %+v, %v", top, ok)
	}
	if got, ok := NewestManifest(keys); !ok || got.Key != keys[4] {
		t.Errorf("NewestManifest = %+v, %v; want %s", got, ok, keys[4])
	}
	if _, ok := NewestManifest(keys[5:]); ok {
		t.Error("NewestManifest found a manifest among topology files")
	}
}

// A revision key differs from the key only in its <generation>-<digest> directory, so it
// parses, and restores to the same file.
func TestRevisionKey(t *testing.T) {
	sum := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, index := range []string{"", ".idx"} {
		key := SSTableKey("ks", "t-"+tid, index, "12", "3456", "nb-12-big-Statistics.db")
		rev := RevisionKey(key, sum)
		if rev == key || !strings.Contains(rev, "/12-3456-0123456789abcdef/nb-12-big-Statistics.db") {
			t.Errorf("RevisionKey(%s) = %s", key, rev)
		}
		k, err := ParseObjectKey(rev)
		if err != nil || k.Generation != "12" || k.Index != index || k.File != "nb-12-big-Statistics.db" {
			t.Errorf("ParseObjectKey(%s) = %+v, %v", rev, k, err)
		}
		a, err1 := LocalPath("/data", key)
		b, err2 := LocalPath("/data", rev)
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("LocalPath: %s (%v) for the key, %s (%v) for its revision", a, err1, b, err2)
		}
	}
}
