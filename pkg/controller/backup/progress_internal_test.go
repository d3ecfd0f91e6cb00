package backup

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
)

// Polled every second for a minute while a node uploads 10 B/s, a backup's status shows
// the rate and an ETA but changes at most once per progress.StatusInterval; a state change
// goes out at once, and the ended node has neither rate nor ETA.
func TestProgressWritesCoalesce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ext := &fakeExternal{ops: map[string]api.Operation{}}
	c := &Controller{cfg: Options{Now: func() time.Time { return now }}.withDefaults(), ext: ext}
	b := pendingBackup()
	b.UID = "uid-1"
	start := metav1.NewTime(now)
	b.Status.StartTime = &start
	stored := b.DeepCopy() // what the API server holds
	writes := 0
	poll := func() {
		t.Helper()
		ev := &event{Object: stored.DeepCopy()}
		if _, err := c.awaitNodes(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(ev.Object.Status, stored.Status) {
			writes++
			stored = ev.Object
		}
	}
	poll() // submits op-1
	writes = 0
	const span = 60
	for s := 1; s <= span; s++ {
		now = now.Add(time.Second)
		ext.ops["op-1"] = api.Operation{ID: "op-1", State: api.StateRunning, Transfer: api.Transfer{BytesTotal: 10_000, BytesTransferred: int64(10 * s)}}
		poll()
	}
	if max := span/5 + 1; writes > max || writes < span/5-1 {
		t.Fatalf("%d status writes in %d polls over %ds, want about one per 5s (at most %d)", writes, span, span, max)
	}
	n := stored.Status.Nodes[0]
	if n.BytesPerSecond != 10 || n.ETA == "" || n.ProgressTime == nil || stored.Status.Rate != "10 B/s" || stored.Status.ETA == "" || stored.Status.Size == "" {
		t.Fatalf("status while running: node %+v, summary %+v", n.TransferRate, stored.Status.ProgressSummary)
	}
	// Nothing moves: once the rate over the window fell to 0, nothing is written.
	for range 35 {
		now = now.Add(time.Second)
		poll()
	}
	stalled := writes
	for range 20 {
		now = now.Add(time.Second)
		poll()
	}
	if writes != stalled {
		t.Fatalf("a stalled node's status was written %d times", writes-stalled)
	}
	// Completion is written at the next poll, however recent the last write.
	now = now.Add(time.Second)
	ext.ops["op-1"] = api.Operation{ID: "op-1", State: api.StateCompleted, Transfer: api.Transfer{BytesTotal: 10_000, BytesTransferred: 10_000}}
	poll()
	n = stored.Status.Nodes[0]
	if n.State != v1alpha1.BackupCompleted || n.BytesUploaded != 10_000 || n.BytesPerSecond != 0 || n.ETA != "" {
		t.Fatalf("completed node: %+v", n)
	}
	if s := stored.Status.ProgressSummary; s.Size != "9.8 KiB / 9.8 KiB" || s.Rate != "" || s.ETA != "" {
		t.Fatalf("completed summary: %+v", s)
	}
}

// Of 40 backups whose nodes uploaded, half complete and half are deleted (or cancelled)
// mid-way and never polled again; once those are stale, the polls of the one live backup
// sweep them: the controller keeps the meters and write times of live transfers only.
func TestMetersOfGoneBackupsAreSwept(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ext := &fakeExternal{ops: map[string]api.Operation{}}
	c := &Controller{cfg: Options{Now: func() time.Time { return now }}.withDefaults(), ext: ext}
	poll := func(b *v1alpha1.CassandraBackup) *v1alpha1.CassandraBackup {
		t.Helper()
		ev := &event{Object: b.DeepCopy()}
		if _, err := c.awaitNodes(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		return ev.Object
	}
	uploading := func(b *v1alpha1.CassandraBackup, state api.State, done int64) {
		id := b.Status.Nodes[0].OperationID
		ext.ops[id] = api.Operation{ID: id, State: state, Transfer: api.Transfer{BytesTotal: 1 << 30, BytesTransferred: done}}
	}
	const n = 40
	var live *v1alpha1.CassandraBackup
	for i := range n + 1 {
		b := pendingBackup()
		b.UID = types.UID(fmt.Sprintf("uid-%d", i))
		start := metav1.NewTime(now)
		b.Status.StartTime = &start
		b = poll(b) // submits
		for s := range int64(3) {
			now = now.Add(time.Second)
			uploading(b, api.StateRunning, 1000*(s+1))
			b = poll(b)
		}
		if i%2 == 0 && i < n {
			uploading(b, api.StateCompleted, 1<<30)
			b = poll(b)
		}
		live = b
	}
	if got, want := c.meters.Len(), n/2+1; got != want {
		t.Fatalf("%d meters after %d backups, %d of them running: want %d", got, n+1, n/2+1, want)
	}
	for end := now.Add(progress.StaleAfter + 2*time.Minute); now.Before(end); now = now.Add(2 * time.Second) {
		uploading(live, api.StateRunning, live.Status.Nodes[0].BytesUploaded+1000)
		live = poll(live)
	}
	if got := c.meters.Len(); got != 1 {
		t.Errorf("%d meters after the deleted backups went stale, want the live backup's 1", got)
	}
	if got := c.gate.Len(); got > 1 {
		t.Errorf("%d progress write times kept, want at most the live backup's", got)
	}
	if live.Status.Nodes[0].BytesPerSecond == 0 {
		t.Errorf("the live backup lost its rate: %+v", live.Status.Nodes[0].TransferRate)
	}
}
