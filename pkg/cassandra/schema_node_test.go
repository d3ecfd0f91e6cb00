package cassandra_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// LiveTableSchema reads a table's columns through both node controls (Jolokia, the
// Management API): an ALTER TABLE shows in the schema, the probe snapshot is cleared, and
// a table the node lacks is an error.
func TestLiveTableSchema(t *testing.T) {
	for _, mgmt := range []bool{false, true} {
		n := fakecassandra.New(t, fakecassandra.Config{Seed: 3, ManagementAPI: mgmt, DataDirs: []string{t.TempDir(), t.TempDir()}})
		var node cassandra.Node = n.Client()
		if mgmt {
			node = n.ManagementAPIClient()
		}
		if _, err := n.CreateTable("ks", "t"); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		before, err := cassandra.LiveTableSchema(ctx, node, n.DataDirs(), "ks", "t")
		if err != nil {
			t.Fatalf("management API %v: %v", mgmt, err)
		}
		if err := n.AlterTable("ks", "t", "ADD note text"); err != nil {
			t.Fatal(err)
		}
		after, err := cassandra.LiveTableSchema(ctx, node, n.DataDirs(), "ks", "t")
		if err != nil {
			t.Fatal(err)
		}
		b, err1 := cassandra.ParseTableSchema(before)
		a, err2 := cassandra.ParseTableSchema(after)
		if err1 != nil || err2 != nil {
			t.Fatalf("parse: %v, %v", err1, err2)
		}
		if d := b.Diff(a); d != "column note (text) on the node is not in the backup" {
			t.Errorf("management API %v: diff %q", mgmt, d)
		}
		for _, dd := range n.DataDirs() {
			if probes, _ := filepath.Glob(filepath.Join(dd, "ks", "*", "snapshots", "*")); len(probes) != 0 {
				t.Errorf("management API %v: snapshots left: %v", mgmt, probes)
			}
		}
		if _, err := cassandra.LiveTableSchema(ctx, node, n.DataDirs(), "ks", "nope"); err == nil {
			t.Errorf("management API %v: a missing table has a schema", mgmt)
		}
	}
}
