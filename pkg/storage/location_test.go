package storage_test

import (
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// hostID is a Cassandra host id: what makes a deep file:// path a node location.
const hostID = "5f1c2e1a-0000-4000-8000-000000000001"

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want storage.Location
		str  string // String(), if it differs from in
	}{
		{"s3://cassandra-bucket", storage.Location{Scheme: "s3", Bucket: "cassandra-bucket"}, ""},
		{"s3://cassandra-bucket/", storage.Location{Scheme: "s3", Bucket: "cassandra-bucket"}, "s3://cassandra-bucket"},
		{"s3://b.with.dots/test-cluster/dc1/5f1c2e1a-0000-4000-8000-000000000001",
			storage.Location{Scheme: "s3", Bucket: "b.with.dots", Cluster: "test-cluster", DC: "dc1", Node: "5f1c2e1a-0000-4000-8000-000000000001"}, ""},
		{"azure://container1/c/d/n", storage.Location{Scheme: "azure", Bucket: "container1", Cluster: "c", DC: "d", Node: "n"}, ""},
		{"gcp://my_bucket", storage.Location{Scheme: "gcp", Bucket: "my_bucket"}, ""},
		{"file:///var/backups/bucket", storage.Location{Scheme: "file", Dir: "/var/backups", Bucket: "bucket"}, ""},
		{"file:///a/b/c/bucket", storage.Location{Scheme: "file", Dir: "/a/b/c", Bucket: "bucket"}, ""},
		{"file:///tmp/bucket/cluster/dc/" + hostID, storage.Location{Scheme: "file", Dir: "/tmp", Bucket: "bucket", Cluster: "cluster", DC: "dc", Node: hostID}, ""},
		{"file:///var/lib/backups/bucket/cluster/dc/" + hostID + "/", storage.Location{Scheme: "file", Dir: "/var/lib/backups", Bucket: "bucket", Cluster: "cluster", DC: "dc", Node: hostID}, "file:///var/lib/backups/bucket/cluster/dc/" + hostID},
		// Without a host id at the end, a deep path is a global location in a deep directory.
		{"file:///mnt/nfs/team/cassandra/backups", storage.Location{Scheme: "file", Dir: "/mnt/nfs/team/cassandra", Bucket: "backups"}, ""},
		{"file:///tmp/bucket/cluster/dc/node", storage.Location{Scheme: "file", Dir: "/tmp/bucket/cluster/dc", Bucket: "node"}, ""},
	} {
		got, err := storage.ParseLocation(tc.in)
		if err != nil {
			t.Fatalf("ParseLocation(%q): %v", tc.in, err)
		}
		if got != tc.want {
			t.Fatalf("ParseLocation(%q) = %+v; want %+v", tc.in, got, tc.want)
		}
		str := tc.str
		if str == "" {
			str = tc.in
		}
		if got.String() != str {
			t.Fatalf("String() = %q; want %q", got.String(), str)
		}
		if got.Global() != (tc.want.Node == "") {
			t.Fatalf("%q: Global() = %t", tc.in, got.Global())
		}
	}
}

func TestForNode(t *testing.T) {
	g, err := storage.ParseLocation("s3://bucket")
	if err != nil {
		t.Fatal(err)
	}
	n, err := g.ForNode("test-cluster", "dc1", "host-1")
	if err != nil {
		t.Fatal(err)
	}
	if n.String() != "s3://bucket/test-cluster/dc1/host-1" || n.NodePrefix() != "test-cluster/dc1/host-1/" || g.NodePrefix() != "" {
		t.Fatalf("ForNode = %s prefix %q", n, n.NodePrefix())
	}
	if _, err := g.ForNode("c", "", "n"); err == nil || err.Error() != "dc is empty" {
		t.Fatalf("ForNode with an empty dc = %v", err)
	}
}
