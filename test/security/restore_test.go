package security_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestRestoreAttacks runs, on a real API server with the restore controller, the webhook
// and the real agent binary as init container, the attacks of issue 19 on restores:
// a bucket writer's tokens and names, a later backup with the same tag, and a pod
// recreated in a restored datacenter. Each must be refused.
func TestRestoreAttacks(t *testing.T) {
	e := newRestoreEnv(t)
	t.Run("tampered bucket", e.restoreTamperedBucket)
	t.Run("same-tag backup", e.restoreSameTag)
}

// restoreTamperedBucket: tokens that are JVM options and names with syntax, written into
// a bucket, refuse the plan with a condition naming the value; no pod gets a restore.
func (e *restoreEnv) restoreTamperedBucket(t *testing.T) {
	node := fakecassandra.New(t, fakecassandra.Config{ClusterName: "victim", Datacenter: "dc1", Rack: "rack1", Seed: 11})
	if err := node.WriteSSTable("ks1", "t1", 4000); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		name, bad string
		tamper    func(m *layout.Manifest, top *layout.Topology)
	}{
		{"token", "-javaagent:/var/lib/cassandra/data/ks1/evil.jar", func(m *layout.Manifest, _ *layout.Topology) {
			m.Tokens = []string{"0 -javaagent:/var/lib/cassandra/data/ks1/evil.jar"}
		}},
		{"yaml token", "authenticator", func(m *layout.Manifest, _ *layout.Topology) {
			m.Tokens = []string{"0\nauthenticator: AllowAllAuthenticator"}
		}},
		{"host id", "../../other", func(_ *layout.Manifest, top *layout.Topology) { top.Topology[0].NodeID = "../../other" }},
		{"datacenter", "dc1 -Dx=$(id)", func(_ *layout.Manifest, top *layout.Topology) { top.Topology[0].DC = "dc1 -Dx=$(id)" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			location := fmt.Sprintf("s3://tampered-%d", i)
			tag := "t"
			b := e.restoreBackup("tampered-"+c.name[:2]+fmt.Sprint(i), location, tag, node, "victim-0")
			bucket := e.restoreBucket(location)
			n := layout.Node{Cluster: "victim", Datacenter: "dc1", HostID: node.HostID()}
			cat := layout.Catalog{Storage: bucket}
			mref, m, err := cat.Manifest(e.ctx, n, tag)
			if err != nil {
				t.Fatal(err)
			}
			tref, top, err := cat.Topology(e.ctx, "victim", tag)
			if err != nil {
				t.Fatal(err)
			}
			c.tamper(m, top)
			e.restorePutJSON(location, mref.Key, m)
			e.restorePutJSON(location, tref.Key, top)

			name := fmt.Sprintf("tampered-%d", i)
			dc := e.restoreDC(name, b.Name)
			e.restoreStatus(name, "the plan refused", func(st *v1alpha1.RestoreStatus) bool {
				r := meta.FindStatusCondition(st.Conditions, reconciler.TypeReady)
				return st.State == v1alpha1.RestoreFailed && r != nil && r.Reason == restore.ReasonBackupRefused && strings.Contains(r.Message, c.bad)
			})
			if _, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(e.ctx, plan.ConfigMapName(name), metav1.GetOptions{}); err == nil {
				t.Error("a plan was written from the tampered bucket")
			}
			_, err = e.kube.CoreV1().Pods(e.ns).Create(e.ctx, restorePod(name+"-rack1-0", dc), metav1.CreateOptions{})
			if err == nil || !strings.Contains(err.Error(), "restore plan is not ready") || !strings.Contains(err.Error(), restore.ReasonBackupRefused) && !strings.Contains(err.Error(), "refused") {
				t.Errorf("pod of the datacenter: %v", err)
			}
		})
	}
}

// restoreSameTag: a later backup with the backup's tag and a tiny entities list is refused
// by the agent; written into the bucket anyway, it is not what the pod restores (the plan's
// manifest, byte for byte). Once the restore COMPLETED, a recreated pod is admitted
// unchanged with an event, spec.restore cannot point elsewhere, and an init container
// never writes over a data directory it did not restore.
func (e *restoreEnv) restoreSameTag(t *testing.T) {
	const location, tag = "s3://same-tag", "snap"
	node := fakecassandra.New(t, fakecassandra.Config{ClusterName: "src", Datacenter: "dc1", Rack: "rack1", Seed: 12})
	for _, w := range []struct {
		ks, table string
		size      int
	}{{"ks1", "t1", 9000}, {"ks1", "t2", 3000}, {"ks2", "t3", 2000}} {
		if err := node.WriteSSTable(w.ks, w.table, w.size); err != nil {
			t.Fatal(err)
		}
	}
	b := e.restoreBackup("same-tag", location, tag, node, "src-0")
	const name = "clone"
	dc := e.restoreDC(name, b.Name)
	e.restoreStatus(name, "the plan", func(st *v1alpha1.RestoreStatus) bool { return st.State == v1alpha1.RestorePlanned })

	// The attacker: a backup request through the agent API with the tag and a tiny entities.
	tiny := api.Request{Type: api.TypeBackup, StorageLocation: location, SnapshotTag: tag, Entities: "ks2", Insecure: true,
		K8sNamespace: e.ns, K8sSecretName: restoreSecret, BackupUID: "attacker"}
	err := e.restoreAgent(node, "src-0").Backup(e.ctx, tiny, &agent.Tracker{})
	if err == nil || !strings.Contains(err.Error(), "already has a COMPLETED backup") {
		t.Fatalf("a second backup of a committed tag: %v", err)
	}
	// A bucket writer writes it anyway: a later manifest of the tag with ks2 only.
	n := layout.Node{Cluster: "src", Datacenter: "dc1", HostID: node.HostID()}
	mref, m, err := layout.Catalog{Storage: e.restoreBucket(location)}.Manifest(e.ctx, n, tag)
	if err != nil {
		t.Fatal(err)
	}
	small := m.Filter(func(ks, _ string) bool { return ks == "ks2" })
	e.restorePutJSON(location, n.ManifestKey(tag, mref.SchemaVersion, mref.Time().Add(60_000_000_000)), small)

	pod, err := e.kube.CoreV1().Pods(e.ns).Create(e.ctx, restorePod("cassandra-clone-rack1-0", dc), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.InitContainers) != 1 || !strings.Contains(strings.Join(pod.Spec.InitContainers[0].Args, " "), "--manifest-key="+mref.Key) {
		t.Fatalf("init container %+v does not name the plan's manifest %s", pod.Spec.InitContainers, mref.Key)
	}
	results, err := e.runner.RunInitContainers(e.ctx, pod)
	if err != nil || len(results) != 1 || results[0].ExitCode != 0 {
		t.Fatalf("init container: %+v %v", results, err)
	}
	data := filepath.Join(e.runner.Root, e.ns, pod.Name, "volumes", "data-volume", "data")
	restored := 0
	for _, f := range m.Files() {
		if cassandra.IsSystemKeyspace(f.Keyspace) && f.Keyspace != "system_schema" {
			continue // a new cluster keeps its own
		}
		restored++
		want := restoreObject(t, e, location, n.Key(f.ObjectKey))
		lp, _ := layout.LocalPath(data, f.ObjectKey)
		if got, err := os.ReadFile(lp); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s not restored byte for byte from the planned manifest: %v", f.ObjectKey, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "ks1")); restored == 0 || len(entries) != 2 {
		t.Errorf("ks1 has %d tables after the restore (%d files checked): the tiny manifest was restored", len(entries), restored)
	}
	e.restoreStatus(name, "the restore to complete", func(st *v1alpha1.RestoreStatus) bool { return st.State == v1alpha1.RestoreCompleted })

	// The pod is deleted; its StatefulSet creates it again: admitted unchanged.
	if err := e.kube.CoreV1().Pods(e.ns).Delete(e.ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := e.kube.CoreV1().Pods(e.ns).Create(e.ctx, restorePod("cassandra-clone-rack1-0", dc), metav1.CreateOptions{})
	if err != nil || len(again.Spec.InitContainers) != 0 || again.Annotations[plan.AnnotationRestoreKey] != "" {
		t.Fatalf("pod recreated in a restored datacenter: %v %+v", err, again.Spec.InitContainers)
	}
	e.restorePoll("the event", func() (bool, error) {
		evs, err := e.kube.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name + ",reason=" + webhook.ReasonRestoreCompletedPodUnchanged})
		return err == nil && len(evs.Items) > 0 && strings.Contains(evs.Items[0].Message, "COMPLETED"), err
	})
	// spec.restore cannot be pointed at another backup.
	_, err = e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Patch(e.ctx, name, "application/merge-patch+json",
		[]byte(`{"spec":{"restore":{"backupName":"other"}}}`), metav1.PatchOptions{})
	if err == nil || !strings.Contains(err.Error(), "spec.restore cannot change once set") {
		t.Errorf("pointing spec.restore at another backup: %v", err)
	}

	// The injected init container run over a live node's volume (its marker gone, newer
	// SSTables written): it refuses and says why in the pod's status.
	vol := filepath.Join(e.runner.Root, e.ns, pod.Name, "volumes", "data-volume")
	if err := os.Remove(filepath.Join(data, "restore_done")); err != nil {
		t.Fatal(err)
	}
	tb, _ := node.Table("ks1", "t1")
	newer := filepath.Join(data, "ks1", tb.DirName(), "nb-99-big-Data.db")
	if err := os.WriteFile(newer, []byte("written by the live node"), 0o644); err != nil {
		t.Fatal(err)
	}
	results, err = e.runner.RunInitContainers(e.ctx, pod)
	if err != nil || len(results) != 1 || results[0].ExitCode == 0 || !strings.Contains(results[0].Stderr, "holds SSTables this restore did not write") {
		t.Fatalf("init container over live data: %+v %v", results, err)
	}
	if got, err := os.ReadFile(newer); err != nil || string(got) != "written by the live node" {
		t.Errorf("the live node's SSTable after the refused restore: %q %v", got, err)
	}
	if _, err := os.Stat(vol); err != nil {
		t.Fatal(err)
	}
	cur, err := e.kube.CoreV1().Pods(e.ns).Get(e.ctx, pod.Name, metav1.GetOptions{})
	if err != nil || len(cur.Status.InitContainerStatuses) != 1 || cur.Status.InitContainerStatuses[0].State.Terminated == nil ||
		!strings.Contains(cur.Status.InitContainerStatuses[0].State.Terminated.Message, "holds SSTables this restore did not write") {
		t.Errorf("pod status does not say why: %+v %v", cur.Status.InitContainerStatuses, err)
	}
}

func restoreObject(t *testing.T, e *restoreEnv, location, key string) []byte {
	t.Helper()
	r, err := e.restoreBucket(location).Get(e.ctx, key, storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
