package layout

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	tid  = "0123456789abcdef0123456789abcdef"
	hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

// esopManifest is a manifest in the shape Esop writes (reference/anchors.md).
const esopManifest = `{"snapshot":{"name":"tag1","keyspaces":{"ks":{"tables":{"t":{"sstables":{"nb-2-big":
[{"objectKey":"data/ks/t-` + tid + `/2-3898601042/nb-2-big-Data.db","type":"FILE","size":55,"hash":"` + hash + `"}]},
"id":"` + tid + `","schemaContent":"CREATE TABLE ks.t (id int PRIMARY KEY)"}}}}},
"tokens":["-9","12"],"schemaVersion":"` + sv + `"}`

func TestManifestJSON(t *testing.T) {
	m, err := DecodeManifest([]byte(esopManifest))
	if err != nil {
		t.Fatal(err)
	}
	files := m.Files()
	want := []File{{Keyspace: "ks", Table: "t", TableID: tid, SSTable: "nb-2-big", Entry: Entry{
		ObjectKey: "data/ks/t-" + tid + "/2-3898601042/nb-2-big-Data.db", Type: TypeFile, Size: 55, Hash: hash}}}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("Files() = %+v", files)
	}
	if m.Size() != 55 || m.Snapshot.Name != "tag1" || m.SchemaVersion != sv || len(m.Tokens) != 2 {
		t.Errorf("manifest %+v", m)
	}
	// Built with Add and SetSchema, the same manifest encodes to the same JSON.
	var b Manifest
	b.Snapshot.Name, b.Tokens, b.SchemaVersion = "tag1", []string{"-9", "12"}, sv
	b.SetSchema("ks", "t", tid, "CREATE TABLE ks.t (id int PRIMARY KEY)")
	b.Add("ks", "t", tid, "nb-2-big", want[0].Entry)
	got, _ := json.Marshal(&b)
	var x, y any
	json.Unmarshal(got, &x)
	json.Unmarshal([]byte(esopManifest), &y)
	if !reflect.DeepEqual(x, y) {
		t.Errorf("encoded %s", got)
	}
}

func TestManifestValidate(t *testing.T) {
	entry := func(key string) string {
		return strings.Replace(esopManifest, "data/ks/t-"+tid+"/2-3898601042/nb-2-big-Data.db", key, 1)
	}
	tests := []struct {
		name, json, wantErr string
	}{
		{"parent segment", entry("data/ks/t-" + tid + "/../../../etc/passwd"), "not a name"},
		{"absolute", entry("/etc/passwd"), "absolute"},
		{"other table", entry("data/ks/u-" + tid + "/2-1/nb-2-big-Data.db"), "not in table directory"},
		{"other keyspace", entry("data/ks2/t-" + tid + "/2-1/nb-2-big-Data.db"), "not in table directory"},
		{"not an sstable", entry("data/ks/t-" + tid + "/2-1/authorized_keys"), "sstable file"},
		{"backslash", entry(`data/ks/t-` + tid + `/2-1/..\\..\\x`), "separator"},
		{"bad hash", strings.Replace(esopManifest, hash, "abc", 1), "SHA-256"},
		{"bad type", strings.Replace(esopManifest, `"FILE"`, `"DIR"`, 1), "type"},
		{"negative size", strings.Replace(esopManifest, `"size":55`, `"size":-1`, 1), "negative"},
		{"bad snapshot name", strings.Replace(esopManifest, `"name":"tag1"`, `"name":"../x"`, 1), "snapshot name"},
		{"not json", `{`, "decode"},
	}
	for _, tt := range tests {
		_, err := DecodeManifest([]byte(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestManifestFilter(t *testing.T) {
	var m Manifest
	m.Snapshot.Name = "x"
	for _, kt := range [][2]string{{"system_schema", "tables"}, {"system", "local"}, {"ks", "a"}, {"ks", "b"}} {
		m.Add(kt[0], kt[1], tid, "nb-1-big", Entry{ObjectKey: SSTableKey(kt[0], kt[1]+"-"+tid, "", "1", "1", "nb-1-big-Data.db"), Type: TypeFile, Hash: hash, Size: 1})
	}
	f := m.Filter(func(ks, table string) bool { return ks == "system_schema" || ks == "ks" && table == "b" })
	var got []string
	for _, file := range f.Files() {
		got = append(got, file.Keyspace+"."+file.Table)
	}
	if !reflect.DeepEqual(got, []string{"ks.b", "system_schema.tables"}) {
		t.Errorf("filtered = %v", got)
	}
	if len(m.Files()) != 4 {
		t.Error("Filter modified the manifest")
	}
}

func TestLocalPath(t *testing.T) {
	dd := filepath.Join(t.TempDir(), "data")
	tests := []struct {
		key, want string
	}{
		{"data/ks/t-" + tid + "/2-3898601042/nb-2-big-Data.db", filepath.Join(dd, "ks", "t-"+tid, "nb-2-big-Data.db")},
		{"data/ks/t-" + tid + "/.t_idx/2-1/nb-2-big-Index.db", filepath.Join(dd, "ks", "t-"+tid, ".t_idx", "nb-2-big-Index.db")},
		{"data/ks/t-" + tid + "/3g7c_0x2k_4ss1c2jb3v5h0bhfcj-77/oa-3g7c_0x2k_4ss1c2jb3v5h0bhfcj-bti-Rows.db", filepath.Join(dd, "ks", "t-"+tid, "oa-3g7c_0x2k_4ss1c2jb3v5h0bhfcj-bti-Rows.db")},
		{"../data/ks/t-" + tid + "/2-1/nb-2-big-Data.db", ""},
		{"data/../ks/t-" + tid + "/2-1/nb-2-big-Data.db", ""},
		{"data/ks/t-" + tid + "/2-1/../nb-2-big-Data.db", ""},
		{"data/ks/t-" + tid + "/2-1/./nb-2-big-Data.db", ""},
		{"data//ks/t-" + tid + "/2-1/nb-2-big-Data.db", ""},
		{"/data/ks/t-" + tid + "/2-1/nb-2-big-Data.db", ""},
		{"data/ks/t-" + tid + "/..idx/2-1/nb-2-big-Data.db", ""},
		{"data/ks/t-" + tid + "/idx/2-1/nb-2-big-Data.db", ""},
		{"data/ks/t-" + tid + "/3-1/nb-2-big-Data.db", ""},
		{"data/ks/t-" + tid + "/2/nb-2-big-Data.db", ""},
		{"data/ks/t-" + tid + "/schema.cql", ""},
		{"data/k:s/t-" + tid + "/2-1/nb-2-big-Data.db", ""},
		{"manifests/ks/t-" + tid + "/2-1/nb-2-big-Data.db", ""},
		{"data/ks/t-" + tid + "/2-1/nb-2-big-Data.db\x00", ""},
		{"C:/data/ks/t-" + tid + "/2-1/nb-2-big-Data.db", ""},
	}
	for _, tt := range tests {
		got, err := LocalPath(dd, tt.key)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %s", tt.key, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
}

func TestTopology(t *testing.T) {
	const js = `{"timestamp":1700000000000,"clusterName":"c","schemaVersion":"` + sv + `","topology":[
{"hostname":"c-dc1-rack1-0","cluster":"c","dc":"dc1","rack":"rack1","nodeId":"h1","ipAddress":"10.0.0.1"},
{"hostname":"c-dc1-rack2-0","cluster":"c","dc":"dc1","rack":"rack2","nodeId":"h2","ipAddress":"10.0.0.2"}]}`
	var top Topology
	if err := json.Unmarshal([]byte(js), &top); err != nil {
		t.Fatal(err)
	}
	h, ok := top.HostByHostname("c-dc1-rack2-0")
	if !ok || h.NodeID != "h2" || h.Rack != "rack2" || h.IPAddress != "10.0.0.2" {
		t.Errorf("HostByHostname = %+v, %v", h, ok)
	}
	if _, ok := top.HostByHostname("x"); ok {
		t.Error("found unknown host")
	}
	out, _ := json.Marshal(top)
	var a, b any
	json.Unmarshal(out, &a)
	json.Unmarshal([]byte(js), &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("round trip: %s", out)
	}
}
