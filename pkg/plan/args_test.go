package plan

import (
	"flag"
	"reflect"
	"testing"
	"time"
)

// TestArgsRoundTrip checks that what the webhook writes is what the agent reads.
func TestArgsRoundTrip(t *testing.T) {
	for _, a := range []Args{
		{StorageLocation: "s3://b", SnapshotTag: "t", Cluster: "c", Datacenter: "dc1", HostID: "h", ManifestKey: "c/dc1/h/manifests/t-v-1.json", NewCluster: true,
			DataDirs: []string{"/d"}, CommitLogDir: "/c", HintsDir: "/h", SavedCachesDir: "/s", TokensFile: "/t.yaml",
			MarkerFile: "/d/m", SecretName: "sec", Entities: "ks1,ks2.t", Insecure: true, Timeout: 90 * time.Minute,
			More: []ArgSource{{HostID: "h2", ManifestKey: "c/dc1/h2/manifests/t-v-1.json"}, {HostID: "h3", ManifestKey: "c/dc 1/h3/manifests/t-v-2.json"}}, IncludeAuth: true, StatusListen: ":4567"},
		{StorageLocation: "file:///x", SnapshotTag: "t", DataDirs: []string{"/a", "/b"}, TokensFile: "/t", MarkerFile: "/m", Timeout: DefaultTimeout},
	} {
		fs := flag.NewFlagSet("restore", flag.ContinueOnError)
		var got Args
		got.Register(fs)
		if err := fs.Parse(a.Flags()); err != nil {
			t.Fatalf("parse %v: %v", a.Flags(), err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, a)
		}
	}
}

// TestArgsTimeoutDefault: the pods of a plan written without --timeout still get a bound.
func TestArgsTimeoutDefault(t *testing.T) {
	a := Args{StorageLocation: "s3://b", SnapshotTag: "t"}
	for _, f := range a.Flags() {
		if len(f) >= 9 && f[:9] == "--timeout" {
			t.Errorf("a zero Timeout wrote %s", f)
		}
	}
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var got Args
	got.Register(fs)
	if err := fs.Parse(a.Flags()); err != nil {
		t.Fatal(err)
	}
	if got.Timeout != DefaultTimeout {
		t.Errorf("timeout %v, want %v", got.Timeout, DefaultTimeout)
	}
}

func TestRestoreKey(t *testing.T) {
	k := RestoreKey("s3://b", "c/dc/h/manifests/t-v-1.json")
	loc, m, ok := ParseRestoreKey(k)
	if !ok || loc != "s3://b" || m != "c/dc/h/manifests/t-v-1.json" {
		t.Errorf("ParseRestoreKey(%q) = %q %q %v", k, loc, m, ok)
	}
}
