package backup

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	krecord "k8s.io/client-go/tools/record"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	listers "github.com/cassbackup/cassandra-backup-operator/pkg/generated/listers/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
)

// startEnv is a controller over an in-memory External, with caches holding two running
// pods of cluster c, datacenter dc1, and the given CassandraDataCenters.
func startEnv(t *testing.T, ext External, cdcs ...*v1alpha1.CassandraDataCenter) (*Controller, *krecord.FakeRecorder) {
	t.Helper()
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	pods, dcs := idx(), idx()
	labels := informers.PodLabels{}.OrDefault()
	for _, name := range []string{"p-0", "p-1"} {
		pods.Add(&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{labels.Cluster: "c", labels.Datacenter: "dc1", labels.Rack: "r1"}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1"},
		})
	}
	for _, d := range cdcs {
		dcs.Add(d)
	}
	rec := krecord.NewFakeRecorder(10)
	c := &Controller{cfg: Options{}.withDefaults(), ext: ext, recorder: rec,
		pods: corelisters.NewPodLister(pods), dcs: listers.NewCassandraDataCenterLister(dcs),
		backups: listers.NewCassandraBackupLister(idx())}
	return c, rec
}

func newBackup() *v1alpha1.CassandraBackup {
	return &v1alpha1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"},
		Spec:       v1alpha1.CassandraBackupSpec{CDC: "cdc1", Cluster: "c", Datacenter: "dc1", SnapshotTag: "t", StorageLocation: "s3://b"},
	}
}

// startErr runs start once and returns its error and what it recorded.
func startErr(t *testing.T, c *Controller, b *v1alpha1.CassandraBackup) error {
	t.Helper()
	res, err := c.start(context.Background(), &event{Object: b})
	if err == nil && res.RequeueAfter <= 0 {
		t.Fatalf("start neither failed nor requeued: %+v", res)
	}
	return err
}

// A node reporting another cluster or datacenter than the spec stops the backup before
// any node is recorded (nothing is submitted, nothing uploaded), with both names.
func TestStartClusterNameMismatch(t *testing.T) {
	for _, tt := range []struct{ name, cluster, dc string }{
		{"cluster", "prod", "dc1"}, {"datacenter", "c", "DC1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ext := &fakeExternal{ops: map[string]api.Operation{}, identity: func(pod *corev1.Pod) (api.Identity, error) {
				if pod.Name == "p-1" {
					return api.Identity{HostID: "h1", Cluster: tt.cluster, Datacenter: tt.dc}, nil
				}
				return api.Identity{HostID: "h0", Cluster: "c", Datacenter: "dc1"}, nil
			}}
			c, _ := startEnv(t, ext)
			b := newBackup()
			err := startErr(t, c, b)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if reconciler.ReasonOf(err) != ReasonClusterNameMismatch || !strings.Contains(msg, `"`+tt.cluster+`"`) ||
				!strings.Contains(msg, `"`+tt.dc+`"`) || !strings.Contains(msg, `spec.cluster "c", spec.datacenter "dc1"`) || !strings.Contains(msg, "p-1") {
				t.Fatalf("start: %v, want %s naming both", err, ReasonClusterNameMismatch)
			}
			if b.Status.Snapshot != "" || len(b.Status.Nodes) != 0 || ext.submitted != 0 {
				t.Errorf("the backup went on: %+v, %d submitted", b.Status, ext.submitted)
			}
		})
	}
}

// spec.cdc: an existing CassandraDataCenter of another cluster or datacenter stops the
// backup; one that records no names, or none at all, does not; a missing one is said once
// in an event.
func TestStartCDC(t *testing.T) {
	cdc := func(cluster, dc string) *v1alpha1.CassandraDataCenter {
		return &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: "cdc1", Namespace: "ns"},
			Spec: v1alpha1.CassandraDataCenterSpec{Cluster: cluster, Datacenter: dc}}
	}
	for _, tt := range []struct {
		name   string
		cdcs   []*v1alpha1.CassandraDataCenter
		reason string
		event  bool
	}{
		{"matching", []*v1alpha1.CassandraDataCenter{cdc("c", "dc1")}, "", false},
		{"names not recorded", []*v1alpha1.CassandraDataCenter{cdc("", "")}, "", false},
		{"other cluster", []*v1alpha1.CassandraDataCenter{cdc("prod", "dc1")}, ReasonDataCenterMismatch, false},
		{"other datacenter", []*v1alpha1.CassandraDataCenter{cdc("c", "dc2")}, ReasonDataCenterMismatch, false},
		{"missing", nil, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := startEnv(t, &fakeExternal{ops: map[string]api.Operation{}}, tt.cdcs...)
			b := newBackup()
			err := startErr(t, c, b)
			if reconciler.ReasonOf(err) != tt.reason || (tt.reason == "") != (err == nil) {
				t.Fatalf("start: %v, want reason %q", err, tt.reason)
			}
			if tt.reason != "" && (!strings.Contains(err.Error(), "cdc1") || b.Status.Snapshot != "") {
				t.Errorf("mismatch: %v, status %+v", err, b.Status)
			}
			if tt.reason == "" && (b.Status.Snapshot != "t" || len(b.Status.Nodes) != 2 || b.Status.Nodes[0].HostID != "h") {
				t.Errorf("the backup did not start: %+v", b.Status)
			}
			var events []string
			for len(rec.Events) > 0 {
				events = append(events, <-rec.Events)
			}
			want := 0
			if tt.event {
				want = 1
			}
			if len(events) != want || (want == 1 && !strings.Contains(events[0], ReasonDataCenterNotFound)) {
				t.Errorf("events %q, want %d %s", events, want, ReasonDataCenterNotFound)
			}
			if _, err := c.start(context.Background(), &event{Object: b}); tt.event && err == nil && len(rec.Events) != 0 {
				t.Errorf("a second pass said it again")
			}
		})
	}
}

// An agent without an identity API (an Icarus sidecar answers 404 on /identity) gives a
// clear reason, retried with backoff rather than at once.
func TestStartAgentWithoutIdentity(t *testing.T) {
	icarus := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/identity" {
			http.NotFound(w, r)
			return
		}
		t.Errorf("unexpected call %s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(icarus.Close)
	c, _ := startEnv(t, nil)
	c.cfg.AgentAddress = func(*corev1.Pod) (string, error) { return icarus.URL, nil }
	c.ext = &remote{pods: c.pods, agents: &client.Client{}, cfg: c.cfg}
	b := newBackup()
	var delays []time.Duration
	for retry := 0; retry < 3; retry++ {
		_, err := c.start(context.Background(), &event{Object: b, Retry: retry})
		var tmp *reconciler.TemporaryError
		if reconciler.ReasonOf(err) != ReasonAgentWithoutIdentity || !strings.Contains(err.Error(), "Icarus") || !strings.Contains(err.Error(), "p-0") {
			t.Fatalf("start: %v, want %s", err, ReasonAgentWithoutIdentity)
		}
		if errors.As(err, &tmp) {
			delays = append(delays, tmp.Delay)
		}
	}
	if len(delays) != 3 || delays[0] < time.Second || delays[2] <= delays[0] {
		t.Errorf("retry delays %v: want a growing backoff from at least a second", delays)
	}
	if b.Status.Snapshot != "" {
		t.Errorf("the backup started: %+v", b.Status)
	}
}

// A node whose agent cannot be reached keeps a backup from starting, retried no later
// than its timeout; past the timeout, counted from creation, the backup fails and says
// which agent was unreachable.
func TestStartUnreachableAgentTimesOut(t *testing.T) {
	ext := &fakeExternal{ops: map[string]api.Operation{}, identity: func(pod *corev1.Pod) (api.Identity, error) {
		if pod.Name == "p-1" {
			return api.Identity{}, errors.New("dial tcp 127.0.0.1:4567: connect: connection refused")
		}
		return api.Identity{HostID: "h0", Cluster: "c", Datacenter: "dc1"}, nil
	}}
	c, _ := startEnv(t, ext)
	now := time.Now()
	c.cfg.Now = func() time.Time { return now }
	b := newBackup()
	b.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Second}
	b.CreationTimestamp = metav1.NewTime(now.Add(-9 * time.Second))
	_, err := c.start(context.Background(), &event{Object: b})
	var tmp *reconciler.TemporaryError
	if !errors.As(err, &tmp) || tmp.Delay > 2*time.Second || !strings.Contains(err.Error(), "p-1") {
		t.Fatalf("before the timeout: %v, want a retry within the timeout", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := c.start(context.Background(), &event{Object: b}); err != nil {
		t.Fatalf("past the timeout: %v", err)
	}
	st := b.Status
	if st.State != v1alpha1.BackupFailed || len(st.Nodes) != 2 || st.Nodes[1].State != v1alpha1.BackupFailed ||
		!strings.Contains(st.Nodes[1].Message, "agent unreachable") || !strings.Contains(st.Nodes[1].Message, "timeout") ||
		st.Nodes[0].State != v1alpha1.BackupCancelled || ext.submitted != 0 {
		t.Errorf("status: %+v", st)
	}
}

// An agent outside the supported skew (too old, or newer than the operator; one that
// reports no version counts as the oldest) keeps the backup from starting with a reason
// naming the node, the agent's version and the supported range, retried with backoff;
// nothing is recorded or submitted. Agents within the window, and development builds,
// start it.
func TestStartAgentVersionUnsupported(t *testing.T) {
	for _, tt := range []struct {
		name, operator, agent string
		ok                    bool
	}{
		{"same", "v0.3.0", "v0.3.2", true},
		{"one minor older", "v0.3.1", "v0.2.0", true},
		{"too old", "v0.3.0", "v0.1.4", false},
		{"no version", "v0.3.0", "", false},
		{"newer", "v0.3.0", "v0.4.0", false},
		{"dev operator", "dev", "v0.1.0", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ext := &fakeExternal{ops: map[string]api.Operation{}, identity: func(pod *corev1.Pod) (api.Identity, error) {
				id := api.Identity{HostID: "h-" + pod.Name, Cluster: "c", Datacenter: "dc1", AgentVersion: "v0.3.0"}
				if pod.Name == "p-1" {
					id.AgentVersion = tt.agent
				}
				return id, nil
			}}
			c, _ := startEnv(t, ext)
			c.cfg.Version = tt.operator
			c.ext = ext
			b := newBackup()
			if tt.ok {
				if err := startErr(t, c, b); err != nil || len(b.Status.Nodes) != 2 {
					t.Fatalf("start: %v, status %+v", err, b.Status)
				}
				return
			}
			var delays []time.Duration
			for retry := 0; retry < 3; retry++ {
				_, err := c.start(context.Background(), &event{Object: b, Retry: retry})
				agent := tt.agent
				if agent == "" {
					agent = "v0.1.0"
				}
				if reconciler.ReasonOf(err) != ReasonAgentVersionUnsupported {
					t.Fatalf("start: %v, want %s", err, ReasonAgentVersionUnsupported)
				}
				for _, want := range []string{"p-1", agent, tt.operator, "v0.2.x to v0.3.x"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("message %q does not name %q", err, want)
					}
				}
				if strings.Contains(err.Error(), "p-0") {
					t.Errorf("message %q names the supported node p-0", err)
				}
				var tmp *reconciler.TemporaryError
				if errors.As(err, &tmp) {
					delays = append(delays, tmp.Delay)
				}
			}
			if len(delays) != 3 || delays[0] < time.Second || delays[2] <= delays[0] {
				t.Errorf("retry delays %v: want a growing backoff from at least a second", delays)
			}
			if b.Status.Snapshot != "" || len(b.Status.Nodes) != 0 || ext.submitted != 0 {
				t.Errorf("the backup started: %+v, %d submitted", b.Status, ext.submitted)
			}
		})
	}
}
