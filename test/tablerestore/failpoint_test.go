package tablerestore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/tablerestore"
)

// TestRestoreOperatorKilledAfterSubmit kills the operator at the failpoint between an
// agent accepting a node's operation and the status write that records its id, every time
// it gets there (so its own retries resubmit too); the restarted operator (a new controller,
// no memory) submits again under the keys the status holds. Each agent ends with exactly
// one operation per phase, the key returning the operation it already runs, and the
// restore completes with one import per node.
func TestRestoreOperatorKilledAfterSubmit(t *testing.T) {
	e := newEnv(t)
	first := e.startOperator()
	e.backup("bk")
	first.stop()
	var hits atomic.Int32
	killed := make(chan struct{})
	o := e.startOperatorWith(func(o *tablerestore.Options) {
		o.Failpoint = func(point string) error {
			if point == tablerestore.FailpointSubmitted {
				if hits.Add(1) == 3 {
					close(killed)
				}
				return errors.New("failpoint: the operator dies here")
			}
			return nil
		}
	})
	e.restore("r", "bk", nil)
	select {
	case <-killed:
	case <-time.After(deadline):
		t.Fatal("the failpoint was not reached on every node")
	}
	o.stop()
	r := e.get("r")
	for _, n := range r.Status.Nodes {
		if n.OperationKey == "" || n.OperationID != "" || n.Phase != v1alpha1.TableRestoreCheck {
			t.Fatalf("after the kill: node %+v; want its key recorded and no operation id", n)
		}
	}
	if ops := e.restoreOps(); fmt.Sprint(ops) != "[1 1 1]" {
		t.Fatalf("after the kill: restore operations per agent %v, want one each", ops)
	}
	e.startOperator()
	e.waitFor("r", "COMPLETED after the restart", state(v1alpha1.TableRestoreCompleted))
	if ops := e.restoreOps(); fmt.Sprint(ops) != "[2 2 2]" { // CHECK, IMPORT
		t.Errorf("restore operations per agent %v, want two each (CHECK, IMPORT)", ops)
	}
	for i, n := range e.nodes {
		if got := n.fake.Calls("importNewSSTables"); got != 1 {
			t.Errorf("node %d imported %d times", i, got)
		}
	}
}

// restoreOps returns how many restore operations each node's agent holds.
func (e *env) restoreOps() []int {
	e.t.Helper()
	var out []int
	for _, n := range e.nodes {
		ops, err := e.agents.For(e.ns).List(context.Background(), fmt.Sprintf("http://%s:%d", n.ip, n.port), api.TypeRestore)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, len(ops))
	}
	return out
}
