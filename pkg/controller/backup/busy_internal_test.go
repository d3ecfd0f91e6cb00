package backup

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// An agent at its operation limit (429) started nothing: however often it answers so,
// the node keeps waiting, with no attempt counted, and is submitted once the agent
// takes it; only the backup's timeout ends the wait.
func TestBusyAgentIsNoAttempt(t *testing.T) {
	busy := fmt.Errorf("POST http://agent/operations: %w", &client.APIError{Status: 429, Message: "the agent runs 2 operations, its limit: retry in 3s", RetryAfter: 3 * time.Second})
	ext := &fakeExternal{ops: map[string]api.Operation{}, createErr: busy}
	c := &Controller{cfg: Options{PollInterval: 10 * time.Second}.withDefaults(), ext: ext}
	b := pendingBackup()
	ev := &event{Object: b}
	for i := range 3 * (c.cfg.MaxAttempts + 5) {
		res, err := c.awaitNodes(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		n := b.Status.Nodes[0]
		if n.Attempts != 0 || final(n.State) || !strings.HasPrefix(n.Message, "agent busy: ") || res.RequeueAfter != 3*time.Second {
			t.Fatalf("pass %d at a busy agent: requeue %s, node %+v; want no attempt, a busy message and the agent's Retry-After", i, res.RequeueAfter, n)
		}
	}
	ext.createErr = nil
	if _, err := c.awaitNodes(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if n := b.Status.Nodes[0]; n.Attempts != 1 || n.OperationID != "op-1" || n.Message != "" {
		t.Fatalf("once the agent takes it: %+v, want attempt 1", n)
	}
	// Past the backup's timeout a busy agent fails the node like an unreachable one.
	b.Status.Nodes[0] = v1alpha1.NodeBackupStatus{Node: "p-0", HostID: "h", State: v1alpha1.BackupPending}
	old := metav1.NewTime(time.Now().Add(-2 * timeout(b)))
	b.Status.StartTime = &old
	ext.createErr = busy
	c.awaitNodes(context.Background(), ev)
	if n := b.Status.Nodes[0]; n.State != v1alpha1.BackupFailed || !strings.Contains(n.Message, "timeout") {
		t.Fatalf("busy past the timeout: %+v", n)
	}
}
