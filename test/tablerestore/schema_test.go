package tablerestore_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/tablerestore"
)

// TestRestoreRefusesSchemaMismatch: a column added to the table on one node since the
// backup (ALTER TABLE keeps the table id) fails the check phase with SchemaMismatch,
// naming the table and the column, with a warning event; nothing is truncated or imported.
func TestRestoreRefusesSchemaMismatch(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	e.backup("bk")
	if err := e.nodes[2].fake.AlterTable("ks1", "t1", "ADD note text"); err != nil {
		t.Fatal(err)
	}
	e.restore("r", "bk", func(s *v1alpha1.CassandraRestoreSpec) { s.Truncate = true })
	r := e.waitFor("r", "FAILED", state(v1alpha1.TableRestoreFailed))
	c := ready(r)
	if c.Reason != tablerestore.ReasonSchemaMismatch || !strings.Contains(c.Message, "table ks1.t1: column note (text) on the node is not in the backup") {
		t.Errorf("Ready %+v", c)
	}
	e.refusedInCheck(r, e.nodes[2])
	e.poll("SchemaMismatch event", func() (bool, any) {
		evs, err := e.kube.CoreV1().Events(e.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "reason=" + tablerestore.ReasonSchemaMismatch})
		return err == nil && len(evs.Items) > 0 && strings.Contains(evs.Items[0].Message, "column note"), evs
	})
}
