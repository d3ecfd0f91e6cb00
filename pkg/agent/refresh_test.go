package agent

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

func TestRefreshDue(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ms := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	tests := []struct {
		name      string
		req       api.Request
		refreshed int64
		want      bool
	}{
		{"no expiry, unknown", api.Request{}, 0, false},
		{"no expiry, a year old", api.Request{}, ms(365 * 24 * time.Hour), false},
		{"expiry, unknown", api.Request{LifecycleExpiry: 30 * 24 * time.Hour}, 0, true},
		{"expiry, fresh", api.Request{LifecycleExpiry: 30 * 24 * time.Hour}, ms(14 * 24 * time.Hour), false},
		{"expiry, just under half", api.Request{LifecycleExpiry: 30 * 24 * time.Hour}, ms(15*24*time.Hour - time.Second), false},
		{"expiry, half", api.Request{LifecycleExpiry: 30 * 24 * time.Hour}, ms(15 * 24 * time.Hour), true},
		{"expiry, old", api.Request{LifecycleExpiry: 30 * 24 * time.Hour}, ms(29 * 24 * time.Hour), true},
		{"expiry, from the future", api.Request{LifecycleExpiry: 30 * 24 * time.Hour}, ms(-time.Hour), false},
		{"skipRefreshing, unknown", api.Request{LifecycleExpiry: time.Hour, SkipRefreshing: true}, 0, false},
		{"skipRefreshing, old", api.Request{LifecycleExpiry: time.Hour, SkipRefreshing: true}, ms(time.Hour), false},
	}
	for _, tt := range tests {
		p, err := newRefreshPolicy(tt.req, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.due(tt.refreshed); got != tt.want {
			t.Errorf("%s: due = %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := newRefreshPolicy(api.Request{LifecycleExpiry: time.Hour, MetadataDirective: "MOVE"}, now); err == nil {
		t.Error("a bad metadata directive is accepted when objects may be refreshed")
	}
}

// copyCounter counts the server-side copies (refreshes) the S3 provider sends.
type copyCounter struct {
	copies atomic.Int64
	mu     sync.Mutex
	keys   map[string]bool
}

func (c *copyCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		c.copies.Add(1)
		c.mu.Lock()
		c.keys[r.URL.Path] = true
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// take returns the copies counted since the last call and the paths copied.
func (c *copyCounter) take() (int64, map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := c.keys
	c.keys = map[string]bool{}
	return c.copies.Swap(0), keys
}

// TestRefreshPolicy backs a node up to the S3 emulator on a fake clock and counts the
// server-side copies at the HTTP layer: no copy of a reused object without a lifecycle
// expiry; with one, exactly the objects last written or refreshed more than half of it
// ago; never with skipRefreshing. Each manifest records when every object was last
// written or refreshed, carried over from the manifest before.
func TestRefreshPolicy(t *testing.T) {
	// The SDK refuses a CA bundle with a plain *http.Client; the emulator speaks HTTP.
	t.Setenv("AWS_CA_BUNDLE", "")
	s3 := emulators.S3(t)
	counter := &copyCounter{keys: map[string]bool{}}
	e := newEnv(t, fakecassandra.Config{})
	e.agent.Credentials = storage.StaticCredentials(s3.Secret())
	e.agent.Storage = storage.Config{HTTPClient: &http.Client{Transport: counter}}
	clock := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	e.agent.Now = func() time.Time { return clock }
	e.populate()
	ctx := context.Background()
	p, _, err := storage.OpenLocation(ctx, "s3://refresh", storage.Config{Credentials: storage.StaticCredentials(s3.Secret()), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	node := layout.Node{Cluster: e.node.ClusterName(), Datacenter: e.node.Datacenter(), HostID: e.node.HostID()}
	day := 24 * time.Hour
	backup := func(tag string, expiry time.Duration, skip bool) map[string]int64 {
		t.Helper()
		req := e.request(api.TypeBackup, tag)
		req.StorageLocation, req.Insecure, req.LifecycleExpiry, req.SkipRefreshing = "s3://refresh", true, expiry, skip
		if o := e.submitUID(req, ""); o.State != api.StateCompleted {
			t.Fatalf("backup %s: %+v", tag, o)
		}
		keys, err := layout.Catalog{Storage: p}.Manifests(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := layout.NewestManifest(keys)
		got := map[string]int64{}
		if _, err := (layout.Catalog{Storage: p}).ScanManifestAt(ctx, ref.Key, func(f layout.File) error {
			got[f.ObjectKey] = f.Refreshed
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	expectCopies := func(step string, want int) {
		t.Helper()
		if n, _ := counter.take(); n != int64(want) {
			t.Errorf("%s: %d copy requests, want %d", step, n, want)
		}
	}
	t0 := clock
	first := backup("r1", 0, false)
	counter.take()
	for k, r := range first {
		if r != t0.UnixMilli() {
			t.Fatalf("r1: %s recorded refreshed %d, want the backup's start %d", k, r, t0.UnixMilli())
		}
	}

	// No lifecycle expiry: nothing is refreshed, and the times are carried over.
	clock = t0.Add(10 * day)
	if err := e.node.WriteSSTable("ks2", "t3", 777); err != nil {
		t.Fatal(err)
	}
	second := backup("r2", 0, false)
	expectCopies("r2 without expiry", 0)
	var added []string
	for k, r := range second {
		switch _, old := first[k]; {
		case old && r != t0.UnixMilli():
			t.Errorf("r2: reused %s recorded %d, want r1's %d", k, r, t0.UnixMilli())
		case !old && r != clock.UnixMilli():
			t.Errorf("r2: new %s recorded %d, want r2's start %d", k, r, clock.UnixMilli())
		case !old:
			added = append(added, k)
		}
	}
	if len(added) == 0 {
		t.Fatal("r2 uploaded nothing new")
	}

	// 30 days of expiry at day 10: everything is younger than 15 days.
	if third := backup("r3", 30*day, false); len(third) != len(second) {
		t.Fatalf("r3 has %d entries, want %d", len(third), len(second))
	}
	expectCopies("r3 with every object fresh", 0)

	// At day 20, r1's objects (day 0) are due, r2's (day 10) are not.
	clock = t0.Add(20 * day)
	fourth := backup("r4", 30*day, false)
	n, copied := counter.take()
	if n != int64(len(first)) {
		t.Errorf("r4: %d copy requests, want one per object of r1 (%d)", n, len(first))
	}
	for k, r := range fourth {
		_, old := first[k]
		if old && (r != clock.UnixMilli() || !copied["/refresh/"+node.Key(k)]) {
			t.Errorf("r4: due %s recorded %d (copied %v), want refreshed at %d", k, r, copied["/refresh/"+node.Key(k)], clock.UnixMilli())
		}
		if !old && r != t0.Add(10*day).UnixMilli() {
			t.Errorf("r4: fresh %s recorded %d, want r2's %d", k, r, t0.Add(10*day).UnixMilli())
		}
	}

	// skipRefreshing wins over the expiry, however old the objects are.
	clock = t0.Add(90 * day)
	backup("r5", 30*day, true)
	expectCopies("r5 with skipRefreshing", 0)
	// Without it, every object is due at day 90.
	backup("r6", 30*day, false)
	expectCopies("r6 at day 90", len(fourth))
}
