package kubectlplugin_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// TestWatch follows a backup through the states the operator writes and checks the
// plain-text lines (one per change) and the exit status: nil for COMPLETED, an error
// naming the state and the Ready message for FAILED.
func TestWatch(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, final string
		wantErr     string
	}{
		{"completes", "COMPLETED", ""},
		{"fails", "FAILED", "is FAILED: node cassandra-dc1-r2-0 failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.create("watched-"+tc.name, "")
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var out syncBuffer
			done := make(chan error, 1)
			go func() { done <- e.runTo(ctx, &out, io.Discard, "watch", b.Name) }()
			// Each step is written once the watch has printed the previous one, so the
			// informer cannot fold two steps into one event.
			steps := []struct {
				status  v1alpha1.CassandraBackupStatus
				printed string
			}{
				{v1alpha1.CassandraBackupStatus{State: "RUNNING", Progress: "0%", Nodes: []v1alpha1.NodeBackupStatus{
					node("cassandra-dc1-r1-0", "r1", "RUNNING", 0, 2097152, ""), node("cassandra-dc1-r2-0", "r2", "PENDING", 0, 0, "")}},
					"node cassandra-dc1-r2-0 PENDING"},
				{v1alpha1.CassandraBackupStatus{State: "RUNNING", Progress: "50%", Nodes: []v1alpha1.NodeBackupStatus{
					node("cassandra-dc1-r1-0", "r1", "COMPLETED", 2097152, 2097152, ""), rated(node("cassandra-dc1-r2-0", "r2", "RUNNING", 0, 2097152, ""), 524288, "4s")},
					ProgressSummary: v1alpha1.ProgressSummary{Size: "2.0 MiB / 4.0 MiB", Rate: "512.0 KiB/s", ETA: "4s"}},
					"node cassandra-dc1-r2-0 RUNNING"},
				{v1alpha1.CassandraBackupStatus{State: v1alpha1.BackupState(tc.final), Progress: "100%", Nodes: []v1alpha1.NodeBackupStatus{
					node("cassandra-dc1-r1-0", "r1", "COMPLETED", 2097152, 2097152, ""), final(tc.final)},
					Conditions: []metav1.Condition{ready(tc.final)}}, ""},
			}
			waitFor(ctx, t, &out, "backup "+b.Name+" - -")
			for _, st := range steps {
				cur, err := e.cs.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Get(ctx, b.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				cur.Status = st.status
				e.setStatus(cur)
				if st.printed != "" {
					waitFor(ctx, t, &out, st.printed)
				}
			}
			var err error
			select {
			case err = <-done:
			case <-ctx.Done():
				t.Fatalf("watch did not return after the backup ended; it printed:\n%s", out.String())
			}
			r := struct {
				out string
				err error
			}{out.String(), err}
			if tc.wantErr == "" && r.err != nil || tc.wantErr != "" && (r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr)) {
				t.Fatalf("watch returned %v; want %q", r.err, tc.wantErr)
			}
			e.golden("watch-"+tc.name+".txt", strings.ReplaceAll(r.out, b.Name, "<backup>"))
		})
	}
}

// waitFor polls the watch's output until it contains s.
func waitFor(ctx context.Context, t *testing.T, out *syncBuffer, s string) {
	t.Helper()
	for !strings.Contains(out.String(), s) {
		select {
		case <-ctx.Done():
			t.Fatalf("the watch never printed %q; it printed:\n%s", s, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func final(state string) v1alpha1.NodeBackupStatus {
	if state == "FAILED" {
		return node("cassandra-dc1-r2-0", "r2", "FAILED", 1048576, 2097152, "upload: connection reset by peer")
	}
	return node("cassandra-dc1-r2-0", "r2", "COMPLETED", 2097152, 2097152, "")
}

func ready(state string) metav1.Condition {
	c := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Completed", Message: "done", LastTransitionTime: metav1.Now()}
	if state == "FAILED" {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, "NodeFailed", "node cassandra-dc1-r2-0 failed"
	}
	return c
}
