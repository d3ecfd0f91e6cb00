package restore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

// renamedDC creates a CassandraDataCenter of Cassandra datacenter "dc2" restoring backup,
// of profile prof.
func (e *env) renamedDC(name, backup string, rename bool, prof string) *v1alpha1.CassandraDataCenter {
	e.t.Helper()
	nodes := int32(1)
	dc := &v1alpha1.CassandraDataCenter{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Annotations: map[string]string{profile.Annotation: prof}},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: "clone", Datacenter: "dc2", Nodes: &nodes, Racks: []v1alpha1.Rack{{Name: "rack1"}},
			Restore: &v1alpha1.RestoreSpec{BackupName: backup, RenameDatacenter: rename}},
	}
	out, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Create(e.ctx, dc, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// renameBackup backs up one fake node of datacenter dc1 with keyspaces ks1, ks2 and ks3.
func (e *env) renameBackup(name string) source {
	e.t.Helper()
	s3 := emulators.S3(e.t)
	e.secret(s3.Secret())
	n := fakecassandra.New(e.t, fakecassandra.Config{ClusterName: "test-cluster", Datacenter: "dc1", Rack: "rack1", Seed: 500})
	for _, ks := range []string{"ks1", "ks2", "ks3"} {
		if err := n.WriteSSTable(ks, "t", 2000); err != nil {
			e.t.Fatal(err)
		}
	}
	src := source{node: n, hostname: "cassandra-src-rack1-0"}
	e.backup(name, s3, "s3://rename-"+strings.ToLower(name), "snap-"+name, []source{src}, v1alpha1.BackupCompleted)
	return src
}

// TestRestoreRenameRefused: a restore into a datacenter of another name than the backup's
// is refused without the opt-in, with a condition, a Warning event and the pods denied
// with the reason. With the opt-in on Jolokia pods (the default profile), which cannot
// alter a keyspace, the restore runs and the condition ReplicationRewritten (and a
// Warning event) gives the CQL to run by hand.
func TestRestoreRenameRefused(t *testing.T) {
	e := newEnv(t, true)
	e.renameBackup("backup-r")
	events := func(dc *v1alpha1.CassandraDataCenter, reason string) {
		t.Helper()
		e.poll("the Warning event "+reason, func() (bool, error) {
			evs, err := e.kube.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + dc.Name})
			if err != nil {
				return false, err
			}
			var seen []string
			for _, ev := range evs.Items {
				if ev.Reason == reason && ev.Type == corev1.EventTypeWarning {
					return true, nil
				}
				seen = append(seen, ev.Type+" "+ev.Reason)
			}
			return false, fmt.Errorf("events %q", seen)
		})
	}
	podName := func(dc *v1alpha1.CassandraDataCenter) string {
		return profile.InstaclustrProfile.PodName(profile.NameParts{Resource: dc.Name, Rack: "rack1"})
	}

	t.Run("no-opt-in", func(t *testing.T) {
		dc := e.renamedDC("no-opt-in", "backup-r", false, profile.Instaclustr)
		e.waitRestore(dc.Name, "the refusal", func(st *v1alpha1.RestoreStatus) bool {
			c := ready(st)
			return c != nil && c.Reason == restore.ReasonDatacenterRenamed && st.State == v1alpha1.RestoreFailed
		})
		msg := ready(e.getDC(dc.Name).Status.Restore).Message
		for _, s := range []string{"names dc1, so dc2 would hold no replica", "renameDatacenter: true"} {
			if !strings.Contains(msg, s) {
				t.Errorf("Ready message lacks %q: %s", s, msg)
			}
		}
		events(dc, restore.ReasonDatacenterRenamed)
		if _, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(e.ctx, plan.ConfigMapName(dc.Name), metav1.GetOptions{}); err == nil {
			t.Error("a plan was written for a refused restore")
		}
		_, err := e.createPod(podName(dc), dc)
		if err == nil || !strings.Contains(err.Error(), "names dc1, so dc2 would hold no replica") {
			t.Errorf("pod admitted or denied for another reason: %v", err)
		}
	})

	t.Run("jolokia", func(t *testing.T) {
		dc := e.renamedDC("jolokia", "backup-r", true, profile.Instaclustr)
		var cond *metav1.Condition
		e.waitRestore(dc.Name, "the manual rewrite condition", func(st *v1alpha1.RestoreStatus) bool {
			if st == nil {
				return false
			}
			cond = meta.FindStatusCondition(st.Conditions, restore.TypeReplicationRewritten)
			return cond != nil && cond.Reason == restore.ReasonManualRewrite
		})
		for _, s := range []string{"controlled through jolokia", "ALTER KEYSPACE <keyspace> WITH replication = {'class': 'NetworkTopologyStrategy', 'dc2': <its factor in dc1>", "every restored keyspace"} {
			if !strings.Contains(cond.Message, s) {
				t.Errorf("ReplicationRewritten message lacks %q: %s", s, cond.Message)
			}
		}
		if cond.Status != metav1.ConditionFalse {
			t.Errorf("ReplicationRewritten %s, want False", cond.Status)
		}
		if c := ready(e.getDC(dc.Name).Status.Restore); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("the restore is not planned: Ready %+v", c)
		}
		events(dc, restore.ReasonManualRewrite)
		pod, err := e.createPod(podName(dc), dc)
		if err != nil {
			t.Fatalf("a pod of the renamed datacenter was denied: %v", err)
		}
		if len(pod.Spec.InitContainers) == 0 {
			t.Error("the admitted pod has no restore init container")
		}
	})
}

// TestRestoreRenameRewritesReplication restores a backup of datacenter dc1 into dc2 with
// renameDatacenter on Management API pods: the restored pod's init container restores for
// real, a fake node of dc2 serves the restored data with the source's replication through
// the Management API behind a real agent, and the operator rewrites ks1 and ks2 (which
// name dc1) exactly once, leaving SimpleStrategy and system keyspaces alone. The first
// alter is applied by the node but its answer is lost and the operator stopped (a crash
// between the schema change and the status write); the next operator does not alter ks1
// again, alters ks2, and the status lists both keyspaces.
func TestRestoreRenameRewritesReplication(t *testing.T) {
	e := newEnv(t, false)
	src := e.renameBackup("backup-m")

	run1, stop1 := e.startController()
	dc := e.renamedDC("renamed", "backup-m", true, profile.CassOperator)
	e.waitRestore(dc.Name, "the plan", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue
	})

	// The agent's port is known before the pod is created: it names it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	name := profile.CassOperatorProfile.PodName(profile.NameParts{Cluster: "clone", Datacenter: "dc2", Rack: "rack1"})
	pod := cassandraPod(name, dc)
	pod.Spec.Containers[1].Ports = []corev1.ContainerPort{{Name: plan.AgentPortName, ContainerPort: int32(port)}}
	e.poll("pod "+name+" to be admitted", func() (bool, error) {
		pod, err = e.kube.CoreV1().Pods(e.ns).Create(e.ctx, pod, metav1.CreateOptions{})
		return err == nil, err
	})
	runner := &podrunner.Runner{Kube: e.kube, Binaries: map[string]string{"cassandra-backup-agent": podrunner.BuildAgent(t)},
		Root: t.TempDir(), Env: []string{"AGENT_KUBECONFIG=" + e.cp.KubeconfigPath}, Network: e.network}
	t.Cleanup(runner.Close)
	if results, err := runner.RunInitContainers(e.ctx, pod); err != nil || len(results) != 1 || results[0].ExitCode != 0 {
		t.Fatalf("init container: %+v %v", results, err)
	}

	// The restored node: the restored data directory, the source's replication.
	data := filepath.Join(runner.Root, e.ns, name, "volumes", "data-volume", "data")
	node := fakecassandra.New(t, fakecassandra.Config{DataDirs: []string{data}, ClusterName: "clone", Datacenter: "dc2", Rack: "rack1",
		Tokens: src.node.Tokens(), ManagementAPI: true})
	for _, ks := range []string{"ks1", "ks2", "ks3"} {
		if _, ok := node.Table(ks, "t"); !ok {
			t.Fatalf("the restored node has no table %s.t", ks)
		}
	}
	nts := cassandra.NetworkTopologyStrategy
	want := map[string]cassandra.Replication{
		"ks1":         {"class": nts, "dc2": "3"},
		"ks2":         {"class": nts, "dc2": "2", "east": "1"},
		"ks3":         {"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "2"},
		"system_auth": {"class": nts, "dc1": "3"},
	}
	node.SetReplication("ks1", cassandra.Replication{"class": nts, "dc1": "3"})
	node.SetReplication("ks2", cassandra.Replication{"class": nts, "dc1": "2", "east": "1"})
	node.SetReplication("ks3", want["ks3"])
	node.SetReplication("system_auth", want["system_auth"])
	// The first alter (ks1, in name order) is applied but its answer is lost, as when the
	// operator dies between the node's schema change and its status write; the operator is
	// stopped there.
	var once sync.Once
	node.SetHook(func(r jolokia.Request) error {
		if r.Operation != "alterKeyspace" {
			return nil
		}
		lost := false
		once.Do(func() {
			node.SetReplication("ks1", want["ks1"])
			stop1()
			lost = true
		})
		if lost {
			return errors.New("connection reset after the schema change")
		}
		return nil
	})
	srv := agent.NewServer(e.ctx, &agent.Agent{Node: node.ManagementAPIClient(), DataDirs: []string{data}, Hostname: name})
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	// The pod is up and serving on the agent's address.
	cur, err := e.kube.CoreV1().Pods(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Phase, cur.Status.PodIP, cur.Status.PodIPs = corev1.PodRunning, "127.0.0.1", []corev1.PodIP{{IP: "127.0.0.1"}}
	cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := e.kube.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := <-run1; err != nil {
		t.Fatalf("first controller: %v", err)
	}
	st := e.getDC(dc.Name).Status.Restore
	if c := meta.FindStatusCondition(st.Conditions, restore.TypeReplicationRewritten); c == nil || c.Reason != restore.ReasonRewriting || len(st.ReplicationChanges) != 2 {
		t.Fatalf("after the first operator stopped: %+v, changes %+v", c, st.ReplicationChanges)
	}
	if got := node.Replication("ks1"); !reflect.DeepEqual(got, want["ks1"]) || node.Calls("alterKeyspace") != 0 {
		t.Fatalf("before the restart: ks1 %v, %d alters answered", got, node.Calls("alterKeyspace"))
	}

	run2, stop2 := e.startController()
	defer func() { stop2(); <-run2 }()
	dc = e.waitRestore(dc.Name, "the rewrite", func(st *v1alpha1.RestoreStatus) bool {
		c := meta.FindStatusCondition(st.Conditions, restore.TypeReplicationRewritten)
		return c != nil && c.Status == metav1.ConditionTrue
	})
	wantChanges := []v1alpha1.ReplicationChange{{Keyspace: "ks1", From: "dc1:3", To: "dc2:3"}, {Keyspace: "ks2", From: "dc1:2,east:1", To: "dc2:2,east:1"}}
	if got := dc.Status.Restore.ReplicationChanges; !reflect.DeepEqual(got, wantChanges) {
		t.Errorf("status.restore.replicationChanges %+v, want %+v", got, wantChanges)
	}
	for ks, w := range want {
		if got := node.Replication(ks); !reflect.DeepEqual(got, w) {
			t.Errorf("replication of %s read back: %v, want %v", ks, got, w)
		}
	}
	if n := node.Calls("alterKeyspace"); n != 1 {
		t.Errorf("%d alters answered after the restart, want 1 (ks2; ks1 was rewritten before it)", n)
	}
	evs, err := e.kube.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + dc.Name + ",reason=ReplicationRewritten"})
	if err != nil || len(evs.Items) != 1 || !strings.Contains(evs.Items[0].Message, "keyspace ks2: replication dc1:2,east:1 → dc2:2,east:1") {
		t.Errorf("ReplicationRewritten events %+v %v", evs, err)
	}
	// Nothing more happens on later passes (the idle poll is 2 s).
	time.Sleep(5 * time.Second)
	if n := node.Calls("alterKeyspace"); n != 1 {
		t.Errorf("%d alters answered after more passes, want 1", n)
	}
}

// startController runs a restore controller until the returned stop is called; its Run's
// result arrives on the channel.
func (e *env) startController() (<-chan error, func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	run := e.newController(ctx)
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return done, cancel
}
