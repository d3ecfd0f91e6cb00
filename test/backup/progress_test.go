package backup_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/backup"
)

// TestProgressRateInStatus runs a backup on throttled bandwidth, polled every 300 ms: while
// it is RUNNING, status.nodes[] show a rate and an ETA and the summary a size, rate and
// ETA; over a fixed span the backup's status is written at most once per 5 s (a watch
// counts the updates), not at every poll.
func TestProgressRateInStatus(t *testing.T) {
	e := newEnv(t, s3Server(t))
	e.secret(secretName, nil)
	for i, rack := range []string{"a", "b"} {
		e.startNode("dc1-"+rack+"-0", "dc1", rack, uint64(60+i), 3_000_000)
	}
	e.startOperator(backup.Options{})
	s := spec("dc1", "progress-1")
	q := resource.MustParse("128Ki")
	s.Bandwidth = &q
	e.create("progress", s)
	measured := func(b *v1alpha1.CassandraBackup) bool {
		if !running(b) || b.Status.Rate == "" || b.Status.ETA == "" || b.Status.Size == "" {
			return false
		}
		for _, n := range b.Status.Nodes {
			if n.BytesPerSecond <= 0 || n.ETA == "" || n.ProgressTime == nil {
				return false
			}
		}
		return true
	}
	b := e.waitFor("progress", "RUNNING with a rate and an ETA on every node", measured)
	t.Logf("RUNNING: %s at %s, ETA %s; node %s: %d B/s, ETA %s", b.Status.Size, b.Status.Rate, b.Status.ETA,
		b.Status.Nodes[0].Node, b.Status.Nodes[0].BytesPerSecond, b.Status.Nodes[0].ETA)

	const span = 15 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), span)
	defer cancel()
	w, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", "progress").String(), ResourceVersion: b.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	updates, last := 0, b
	for ev := range w.ResultChan() {
		if ev.Type == watch.Modified {
			updates++
			last = ev.Object.(*v1alpha1.CassandraBackup)
		}
	}
	if last.Status.State != v1alpha1.BackupRunning {
		t.Fatalf("the backup left RUNNING within the span (%s): make it slower", last.Status.State)
	}
	if max := int(span/(5*time.Second)) + 1; updates > max || updates == 0 {
		t.Fatalf("%d status updates in %s while RUNNING (polled every 300 ms), want 1 to %d", updates, span, max)
	}
	// The first seconds include the limiter's burst; 15 s later the rate is the cap's.
	for _, n := range last.Status.Nodes {
		if limit := q.Value(); n.BytesPerSecond > 2*limit || n.BytesPerSecond < limit/4 {
			t.Errorf("node %s: %d B/s with a %d B/s cap", n.Node, n.BytesPerSecond, limit)
		}
	}
	t.Logf("%d status updates in %s; last: %s at %s, ETA %s", updates, span, last.Status.Size, last.Status.Rate, last.Status.ETA)

	// Once done, the size is whole and nothing moves: no rate, no ETA.
	done := e.waitFor("progress", "COMPLETED", completed)
	if st := done.Status; st.Rate != "" || st.ETA != "" || st.Size == "" {
		t.Errorf("COMPLETED backup: summary %+v", st.ProgressSummary)
	}
	for _, n := range done.Status.Nodes {
		if n.BytesPerSecond != 0 || n.ETA != "" || n.BytesUploaded != n.BytesTotal {
			t.Errorf("COMPLETED node %s: %d/%d B, %+v", n.Node, n.BytesUploaded, n.BytesTotal, n.TransferRate)
		}
	}
}
