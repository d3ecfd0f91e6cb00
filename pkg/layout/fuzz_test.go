package layout

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLocalPath checks that no object key maps outside the data directory.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{
		"data/ks/t-" + tid + "/2-3898601042/nb-2-big-Data.db",
		"data/ks/t-" + tid + "/.idx/2-1/nb-2-big-Data.db",
		"data/ks/t-" + tid + "/../../../etc/passwd",
		"/etc/passwd", "data/ks/t-" + tid + "/2-1/..", "..", ".", "", "data/./x", `data\..\x`,
	} {
		f.Add(s)
	}
	dd := filepath.Join(f.TempDir(), "data")
	f.Fuzz(func(t *testing.T, key string) {
		p, err := LocalPath(dd, key)
		if err != nil {
			return
		}
		if ValidateObjectKey(key) != nil {
			t.Fatalf("LocalPath accepted %q that ValidateObjectKey refuses", key)
		}
		rel, err := filepath.Rel(dd, p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			t.Fatalf("%q maps to %q, outside %q", key, p, dd)
		}
		if len(strings.Split(rel, string(filepath.Separator))) > 4 {
			t.Fatalf("%q maps too deep: %q", key, rel)
		}
	})
}

// FuzzValidateObjectKey checks that accepted keys are clean and relative.
func FuzzValidateObjectKey(f *testing.F) {
	for _, s := range []string{"a/b", "../a", "a/../b", "/a", "a//b", "a/./b", `a\b`, "a/b/", "C:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateObjectKey(key) != nil {
			return
		}
		if filepath.IsAbs(key) || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
			t.Fatalf("accepted absolute or backslashed %q", key)
		}
		for _, s := range strings.Split(key, "/") {
			if s == "" || s == "." || s == ".." {
				t.Fatalf("accepted %q with segment %q", key, s)
			}
		}
	})
}

// FuzzDecodeManifest checks that decoding never panics and that every entry of a manifest
// it accepts maps into the data directory, in its own table's directory.
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(esopManifest))
	f.Add([]byte(strings.Replace(esopManifest, "/2-3898601042/", "/.t_idx/2-3898601042/", 1)))
	f.Add([]byte(strings.Replace(esopManifest, "data/ks/t-"+tid+"/2-3898601042/", "data/ks/t-"+tid+"/../../", 1)))
	f.Add([]byte(`{"snapshot":{"name":"..","keyspaces":null},"tokens":null}`))
	f.Add([]byte(`{"snapshot":{"name":"a","keyspaces":{"ks":{"tables":{"t":{"sstables":{"x":[{}]}}}}}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[`))
	dd := filepath.Join(f.TempDir(), "data")
	f.Fuzz(func(t *testing.T, data []byte) {
		scanned, serr := scanFiles(data)
		for _, e := range scanned {
			if _, err := LocalPath(dd, e.ObjectKey); err != nil {
				t.Fatalf("scanned manifest entry %q has no local path: %v", e.ObjectKey, err)
			}
			if k, _ := ParseObjectKey(e.ObjectKey); k.Keyspace != e.Keyspace || k.Table != e.Table || k.TableID != e.TableID {
				t.Fatalf("scanned entry %q is not in table %s.%s-%s", e.ObjectKey, e.Keyspace, e.Table, e.TableID)
			}
		}
		m, err := DecodeManifest(data)
		if err != nil {
			return
		}
		// The streaming reader yields every entry DecodeManifest keeps (and, of a key named
		// twice, the entries DecodeManifest drops), unless it refuses a keyspace or table
		// named twice.
		if serr == nil {
			got := map[File]bool{}
			for _, f := range scanned {
				got[f] = true
			}
			for _, f := range m.Files() {
				if !got[f] {
					t.Fatalf("ScanManifest left out %+v", f)
				}
			}
		} else if !strings.Contains(serr.Error(), "twice") {
			t.Fatalf("ScanManifest refused what DecodeManifest accepts: %v", serr)
		}
		for _, e := range m.Files() {
			p, err := LocalPath(dd, e.ObjectKey)
			if err != nil {
				t.Fatalf("accepted manifest entry %q has no local path: %v", e.ObjectKey, err)
			}
			dir := filepath.Join(dd, e.Keyspace, e.Table+"-"+e.TableID)
			if rel, err := filepath.Rel(dir, p); err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("entry %q of %s.%s maps to %q, outside %q", e.ObjectKey, e.Keyspace, e.Table, p, dir)
			}
		}
		// What was accepted encodes and decodes to an accepted manifest again.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeManifest(b); err != nil {
			t.Fatalf("re-encoded manifest refused: %v", err)
		}
	})
}

// FuzzDecodeTopology checks that decoding never panics and that a host of an accepted
// topology that makes a valid Node has a prefix of exactly three segments.
func FuzzDecodeTopology(f *testing.F) {
	top, _ := json.Marshal(Topology{Timestamp: 1, ClusterName: "c", SchemaVersion: sv, Topology: []Host{
		{Hostname: "c-dc1-r1-0", Cluster: "c", DC: "dc1", Rack: "r1", NodeID: "6b3f1c0e-0000-4000-8000-000000000001", IPAddress: "10.0.0.1"}}})
	f.Add(top)
	f.Add([]byte(`{"timestamp":-1,"clusterName":"c"}`))
	f.Add([]byte(`{"clusterName":"c","topology":[{"nodeId":"../../x","dc":".."}]}`))
	f.Add([]byte(`{"clusterName":"c","topology":[null,{}]}`))
	f.Add([]byte(`{"timestamp":1e30}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := DecodeTopology(data)
		if err != nil {
			return
		}
		if top.ClusterName == "" || top.Timestamp < 0 {
			t.Fatalf("accepted %+v", top)
		}
		for _, h := range top.Topology {
			if got, ok := top.HostByHostname(h.Hostname); !ok || got.Hostname != h.Hostname {
				t.Fatalf("host %q not found by its name", h.Hostname)
			}
			n := Node{Cluster: top.ClusterName, Datacenter: h.DC, HostID: h.NodeID}
			if n.Validate() != nil {
				continue
			}
			if s := strings.Split(n.Prefix(), "/"); len(s) != 3 {
				t.Fatalf("node %+v has prefix %q", n, n.Prefix())
			}
		}
	})
}

// FuzzParseManifestKey checks that parsing never panics, that what it accepts has a tag
// that is one key segment, and that keys it builds parse back to what built them.
func FuzzParseManifestKey(f *testing.F) {
	for _, s := range []string{
		"c/dc/h/manifests/tag1-" + sv + "-1700000000000.json", "my-tag-2026-11-27-" + sv + "-5.json",
		"-" + sv + "-1.json", "tag1-" + sv + "--1.json", "tag1-" + sv + "-+1.json", "tag1-" + sv + "-99999999999999999999.json",
		"../-" + sv + "-1.json", ".json", "", "/",
	} {
		f.Add(s, "tag1", int64(1))
	}
	f.Fuzz(func(t *testing.T, key, tag string, ms int64) {
		if r, err := ParseManifestKey(key); err == nil {
			checkRef(t, r)
		}
		if segment(tag) != nil || ms < 0 {
			return
		}
		built := Node{Cluster: "c", Datacenter: "dc", HostID: "h"}.ManifestKey(tag, sv, time.UnixMilli(ms))
		r, err := ParseManifestKey(built)
		if err != nil {
			t.Fatalf("ParseManifestKey(%q) of tag %q: %v", built, tag, err)
		}
		if r.Tag != tag || r.SchemaVersion != sv || r.EpochMillis != ms {
			t.Fatalf("ParseManifestKey(%q) = %+v, built from tag %q, %d ms", built, r, tag, ms)
		}
	})
}

// FuzzParseTopologyKey checks that parsing never panics, that what it accepts is of the
// cluster asked for, and that keys TopologyKey builds parse back.
func FuzzParseTopologyKey(f *testing.F) {
	for _, s := range []string{
		"topology/test-cluster-my-tag-" + sv + "-1764201600123-topology.json",
		"topology/test-cluster--" + sv + "-1-topology.json", "topology/-topology.json", "test-cluster-topology.json", "",
	} {
		f.Add(s, "test-cluster", "my-tag", int64(1))
	}
	f.Fuzz(func(t *testing.T, key, cluster, tag string, ms int64) {
		if r, err := ParseTopologyKey(key, cluster); err == nil {
			checkRef(t, r)
			if cluster == "" || !strings.HasPrefix(filepath.Base(key), cluster+"-") {
				t.Fatalf("ParseTopologyKey(%q, %q) accepted another cluster's key", key, cluster)
			}
		}
		if segment(tag) != nil || segment(cluster) != nil || ms < 0 {
			return
		}
		built := TopologyKey(cluster, tag, sv, time.UnixMilli(ms))
		r, err := ParseTopologyKey(built, cluster)
		if err != nil {
			t.Fatalf("ParseTopologyKey(%q, %q) of tag %q: %v", built, cluster, tag, err)
		}
		if r.Tag != tag || r.SchemaVersion != sv || r.EpochMillis != ms {
			t.Fatalf("ParseTopologyKey(%q, %q) = %+v, built from tag %q, %d ms", built, cluster, r, tag, ms)
		}
	})
}

// checkRef fails unless r is a ref a parser may return.
func checkRef(t *testing.T, r Ref) {
	t.Helper()
	if segment(r.Tag) != nil || !uuidRE.MatchString(r.SchemaVersion) || r.EpochMillis < 0 {
		t.Fatalf("parsed %+v", r)
	}
}

// FuzzParseObjectKey checks that parsing never panics and that an accepted key is rebuilt
// by SSTableKey from its parts, so nothing in it was dropped or reinterpreted.
func FuzzParseObjectKey(f *testing.F) {
	for _, s := range []string{
		"data/ks/t-" + tid + "/2-3898601042/nb-2-big-Data.db",
		"data/ks/t-" + tid + "/.t_idx/2-1/nb-2-big-Data.db",
		"data/ks/t-" + tid + "/3gs2_0k3n_2ps0w2m5hpbfhvkdt6-1/nc-3gs2_0k3n_2ps0w2m5hpbfhvkdt6-big-Data.db",
		"data/ks/t-" + tid + "/2-1/../nb-2-big-Data.db", "data/ks/t-" + tid + "/.x/.y/2-1/nb-2-big-Data.db",
		"data/ks/t-/2-1/nb-2-big-Data.db", "data/ks/t-" + tid + "/-1/nb--big-Data.db",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		k, err := ParseObjectKey(key)
		if err != nil {
			return
		}
		tableDir := k.Table + "-" + k.TableID
		if got := SSTableKey(k.Keyspace, tableDir, k.Index, k.Generation, k.Digest, k.File); got != key {
			t.Fatalf("ParseObjectKey(%q) = %+v, which rebuilds %q", key, k, got)
		}
	})
}
