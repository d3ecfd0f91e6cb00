package tablerestore_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/tablerestore"
)

// liveData returns each node's ks1.t1 contents (Data.db of its live SSTables).
func (e *env) liveData() []map[string]bool {
	e.t.Helper()
	var out []map[string]bool
	for _, n := range e.nodes {
		d, err := n.fake.LiveData("ks1", "t1")
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// sstables returns how many live SSTables ks1.t1 has on node i.
func (e *env) sstables(i int) int {
	e.t.Helper()
	ss, err := e.nodes[i].fake.SSTables("ks1", "t1")
	if err != nil {
		e.t.Fatal(err)
	}
	return len(ss)
}

// writeAfterBackup adds a new SSTable to ks1.t1 on every node: data the backup lacks.
func (e *env) writeAfterBackup() {
	e.t.Helper()
	for _, n := range e.nodes {
		if err := n.fake.WriteSSTable("ks1", "t1", 7_777); err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestRestoreTableTruncate restores one table into the running 3-node datacenter with
// truncate: every node's table holds exactly the backed-up SSTables again, byte for byte,
// the other table is untouched, and each node ran one operation per phase.
func TestRestoreTableTruncate(t *testing.T) {
	e := newEnv(t)
	op := e.startOperator()
	before := e.liveData()
	e.backup("bk")
	e.writeAfterBackup()
	t2, _ := e.nodes[0].fake.LiveData("ks1", "t2")
	e.restore("r", "bk", func(s *v1alpha1.CassandraRestoreSpec) { s.Truncate = true })
	r := e.waitFor("r", "COMPLETED", state(v1alpha1.TableRestoreCompleted))
	after := e.liveData()
	for i := range e.nodes {
		if !maps.Equal(before[i], after[i]) || e.sstables(i) != len(before[i]) {
			t.Errorf("node %d: ks1.t1 holds %d SSTables (%d distinct), want exactly the backup's %d", i, e.sstables(i), len(after[i]), len(before[i]))
		}
		if got := e.nodes[i].posts.Load(); got != 1+3 { // backup, CHECK, TRUNCATE, IMPORT
			t.Errorf("node %d: %d operations submitted, want 4", i, got)
		}
		if c := e.nodes[i].fake.Calls("truncate"); c != 1 {
			t.Errorf("node %d: truncate called %d times", i, c)
		}
	}
	if got, _ := e.nodes[0].fake.LiveData("ks1", "t2"); !maps.Equal(got, t2) {
		t.Error("ks1.t2 changed")
	}
	for _, n := range r.Status.Nodes {
		if n.State != v1alpha1.TableRestoreCompleted || n.SourceNode != n.Node || n.BytesTotal == 0 || n.BytesDone != n.BytesTotal || n.Files == 0 {
			t.Errorf("node status %+v", n)
		}
	}
	if c := ready(r); c.Status != "True" || r.Status.Progress != "100%" {
		t.Errorf("Ready %+v, progress %s", c, r.Status.Progress)
	}
	var bytes int64
	for _, n := range r.Status.Nodes {
		bytes += n.BytesDone
	}
	page := op.scrape(t)
	for _, want := range []string{
		fmt.Sprintf(`cassandra_backup_table_restores{namespace=%q,state="COMPLETED"} 1`, e.ns),
		fmt.Sprintf(`cassandra_backup_table_restore_duration_seconds_count{namespace=%q,result="completed"} 1`, e.ns),
		fmt.Sprintf(`cassandra_backup_table_restore_size_bytes_sum{namespace=%q,result="completed"} %d`, e.ns, bytes),
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestRestoreTableMerge restores without truncate: the live rows written after the
// backup stay, next to the backed-up SSTables imported again.
func TestRestoreTableMerge(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	before := e.liveData()
	e.backup("bk")
	e.writeAfterBackup()
	mid := e.liveData()
	e.restore("r", "bk", nil)
	e.waitFor("r", "COMPLETED", state(v1alpha1.TableRestoreCompleted))
	after := e.liveData()
	for i := range e.nodes {
		if !maps.Equal(mid[i], after[i]) || e.sstables(i) != len(mid[i])+len(before[i]) {
			t.Errorf("node %d: %d SSTables, want the %d live ones and the %d imported", i, e.sstables(i), len(mid[i]), len(before[i]))
		}
		if c := e.nodes[i].fake.Calls("truncate"); c != 0 {
			t.Errorf("node %d: truncated without spec.truncate", i)
		}
	}
}

// TestRestoreRefusesTableIDMismatch: a table dropped and created again on a node since
// the backup has another id; the restore fails in its check phase, naming the table,
// and nothing is truncated or imported anywhere.
func TestRestoreRefusesTableIDMismatch(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	e.backup("bk")
	if _, err := e.nodes[1].fake.RecreateTable("ks1", "t1"); err != nil {
		t.Fatal(err)
	}
	mid := e.liveData()
	e.restore("r", "bk", func(s *v1alpha1.CassandraRestoreSpec) { s.Truncate = true })
	r := e.waitFor("r", "FAILED", state(v1alpha1.TableRestoreFailed))
	c := ready(r)
	if c.Reason != tablerestore.ReasonCheckFailed || !strings.Contains(c.Message, "ks1.t1") || !strings.Contains(c.Message, "table id") {
		t.Errorf("Ready %+v", c)
	}
	e.refusedInCheck(r, e.nodes[1])
	after := e.liveData()
	for i := range mid {
		if !maps.Equal(mid[i], after[i]) {
			t.Errorf("node %d: data changed", i)
		}
	}
}

// TestRestoreRefusesWithoutDiskSpace: a headroom larger than the disk fails the check on
// every node, before anything is downloaded.
func TestRestoreRefusesWithoutDiskSpace(t *testing.T) {
	e := newEnv(t)
	e.startOperator()
	e.backup("bk")
	huge := resource.MustParse("1Ei")
	e.restore("r", "bk", func(s *v1alpha1.CassandraRestoreSpec) { s.MinFreeBytes = &huge })
	r := e.waitFor("r", "FAILED", state(v1alpha1.TableRestoreFailed))
	if c := ready(r); c.Reason != tablerestore.ReasonCheckFailed || !strings.Contains(c.Message, "not enough disk space") {
		t.Errorf("Ready %+v", c)
	}
	if len(r.Status.FailedNodes) != 3 {
		t.Errorf("failed nodes %v", r.Status.FailedNodes)
	}
	for i, n := range e.nodes {
		if n.fake.Calls("importNewSSTables") != 0 {
			t.Errorf("node %d imported", i)
		}
	}
}

var errImport = &importError{}

type importError struct{}

func (*importError) Error() string { return "java.lang.RuntimeException: disk failure" }

// refusedInCheck checks that the restore failed in its CHECK phase on node alone and that
// no node truncated or imported anything.
func (e *env) refusedInCheck(r *v1alpha1.CassandraRestore, failed *node) {
	e.t.Helper()
	if !slices.Equal(r.Status.FailedNodes, []string{failed.name}) || r.Status.Phase != v1alpha1.TableRestoreCheck {
		e.t.Errorf("failed nodes %v in phase %s, want [%s] in CHECK", r.Status.FailedNodes, r.Status.Phase, failed.name)
	}
	for i, n := range e.nodes {
		if n.fake.Calls("truncate") != 0 || n.fake.Calls("importNewSSTables") != 0 {
			e.t.Errorf("node %d truncated or imported", i)
		}
	}
}
