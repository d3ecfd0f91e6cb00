package restore

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/progress"
)

// Of 20 datacenters whose pods restored, all but one are deleted mid-way and never
// measured again; once they are stale, the measuring of the live one sweeps their meters
// and write times.
func TestMetersOfGoneRestoresAreSwept(t *testing.T) {
	var done int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done += 1000
		json.NewEncoder(w).Encode([]api.Operation{{Request: api.Request{Type: api.TypeRestore}, ID: "r", State: api.StateRunning,
			Transfer: api.Transfer{BytesTotal: 1 << 30, BytesTransferred: done}}})
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	agentPort, _ := strconv.Atoi(port)
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	now := time.Unix(1_800_000_000, 0)
	c := &Controller{pods: corelisters.NewPodLister(pods), agents: &client.Client{}, opts: Options{Now: func() time.Time { return now }}}
	restoring := func(i int) (*v1alpha1.CassandraDataCenter, *v1alpha1.RestoreStatus) {
		name := fmt.Sprintf("dc%d-0", i)
		pods.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: name},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Ports: []corev1.ContainerPort{{Name: plan.AgentPortName, ContainerPort: int32(agentPort)}}}}},
			Status: corev1.PodStatus{PodIP: host}})
		dc := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: fmt.Sprintf("dc%d", i), UID: types.UID(fmt.Sprintf("uid-%d", i))}}
		return dc, &v1alpha1.RestoreStatus{State: v1alpha1.RestoreRunning, Nodes: []v1alpha1.NodeRestoreStatus{{Pod: name, State: v1alpha1.RestoreRunning}}}
	}
	measure := func(dc *v1alpha1.CassandraDataCenter, st *v1alpha1.RestoreStatus) {
		before := st.DeepCopy()
		c.measure(context.Background(), dc, before, st)
	}
	const n = 20
	var live *v1alpha1.CassandraDataCenter
	var liveSt *v1alpha1.RestoreStatus
	for i := range n {
		dc, st := restoring(i)
		for range 2 {
			now = now.Add(progress.StatusInterval)
			measure(dc, st)
		}
		live, liveSt = dc, st
	}
	if got := c.meters.Len(); got != n {
		t.Fatalf("%d meters after %d restoring datacenters, want %d", got, n, n)
	}
	for end := now.Add(progress.StaleAfter + 2*time.Minute); now.Before(end); now = now.Add(progress.StatusInterval) {
		measure(live, liveSt)
	}
	if got := c.meters.Len(); got != 1 {
		t.Errorf("%d meters after the deleted datacenters went stale, want the live one's 1", got)
	}
	if got := c.gate.Len(); got > 1 {
		t.Errorf("%d progress write times kept, want at most the live datacenter's", got)
	}
	if liveSt.Nodes[0].BytesPerSecond == 0 {
		t.Errorf("the live restore has no rate: %+v", liveSt.Nodes[0])
	}
}
