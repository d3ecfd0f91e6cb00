package restore_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/reconciler"
	"github.com/cassbackup/cassandra-backup-operator/pkg/webhook"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

// files returns the SSTable files of the data directory's tables that keep selects, by
// path relative to the data directory.
func files(t *testing.T, dataDir string, keep func(ks string) bool) map[string][]byte {
	t.Helper()
	out, err := fakecassandra.DataFiles([]string{dataDir}, func(ks, _ string) bool { return keep(ks) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// restored keeps what a restore into a new cluster brings back: user keyspaces and
// system_schema.
func restored(ks string) bool { return ks == "system_schema" || !cassandra.IsSystemKeyspace(ks) }

func modTimes(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out[p] = fi.ModTime()
		}
		return nil
	})
	return out
}

func (e *env) waitRestore(name, what string, cond func(*v1alpha1.RestoreStatus) bool) *v1alpha1.CassandraDataCenter {
	e.t.Helper()
	var dc *v1alpha1.CassandraDataCenter
	e.poll(what, func() (bool, error) {
		dc = e.getDC(name)
		if dc.Status.Restore == nil {
			return cond(nil), fmt.Errorf("no status.restore")
		}
		b, _ := json.Marshal(dc.Status.Restore)
		return cond(dc.Status.Restore), fmt.Errorf("status.restore: %s", b)
	})
	return dc
}

func ready(st *v1alpha1.RestoreStatus) *metav1.Condition {
	if st == nil {
		return nil
	}
	return meta.FindStatusCondition(st.Conditions, reconciler.TypeReady)
}

// TestRestoreEndToEnd backs up three fake nodes to an S3 emulator, restores them into a
// datacenter of another cluster name (a clone) through the controller, the webhook and the
// pod runner, re-plans on a spec.restore change and stops injecting when it is removed.
func TestRestoreEndToEnd(t *testing.T) {
	e := newEnv(t, true)
	s3 := emulators.S3(t)
	e.secret(s3.Secret())
	const location = "s3://restore-e2e"

	var nodes []source
	for i := range 3 {
		n := fakecassandra.New(t, fakecassandra.Config{ClusterName: "test-cluster", Datacenter: "dc1", Rack: "rack1", Seed: uint64(100 + i)})
		for _, w := range []struct {
			ks, table string
			size      int
		}{{"ks1", "t1", 20000 + 1000*i}, {"ks1", "t2", 3000}, {"ks2", "t3", 7000 + i}} {
			if err := n.WriteSSTable(w.ks, w.table, w.size); err != nil {
				t.Fatal(err)
			}
		}
		nodes = append(nodes, source{node: n, hostname: fmt.Sprintf("cassandra-test-dc-cassandra-rack1-%d", i)})
	}
	b1 := e.backup("backup-1", s3, location, "snap-1", nodes, v1alpha1.BackupCompleted)
	_ = b1

	// The clone: another cluster name, one node more than the backup.
	const cdc = "clone-dc"
	dc := e.datacenter(cdc, "clone-cluster", 4, &v1alpha1.RestoreSpec{BackupName: "backup-1"})
	dc = e.waitRestore(cdc, "the plan", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue && st.State == v1alpha1.RestorePlanned
	})
	st := dc.Status.Restore
	if st.Plan != plan.ConfigMapName(cdc) || st.BackupName != "backup-1" || len(st.Nodes) != 3 {
		t.Fatalf("status.restore %+v", st)
	}
	cm, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(e.ctx, st.Plan, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != dc.UID || cm.Labels["cassandraoperator.instaclustr.com/restore-plan"] != cdc {
		t.Errorf("plan ConfigMap owner %+v labels %v", cm.OwnerReferences, cm.Labels)
	}

	// Pods as the StatefulSet would create them; the runner plays the kubelet.
	runner := &podrunner.Runner{
		Kube:     e.kube,
		Binaries: map[string]string{"cassandra-backup-agent": podrunner.BuildAgent(t)},
		Root:     t.TempDir(),
		// The init container reads the Secret through the API, as with its service account.
		Env: []string{"AGENT_KUBECONFIG=" + e.cp.KubeconfigPath},
		// With CASSBACKUP_PODNET=1 each pod runs in a network namespace of its own.
		Network: e.network,
	}
	t.Cleanup(runner.Close)
	var pods []*corev1.Pod
	for i := range 4 {
		var pod *corev1.Pod
		name := fmt.Sprintf("cassandra-%s-rack1-%d", cdc, i)
		e.poll("pod "+name+" to be admitted", func() (bool, error) {
			var err error
			pod, err = e.createPod(name, dc)
			return err == nil, err
		})
		pods = append(pods, pod)
	}
	if len(pods[3].Spec.InitContainers) != 0 {
		t.Errorf("pod beyond the backup got %+v", pods[3].Spec.InitContainers)
	}
	for i, pod := range pods[:3] {
		src := nodes[i]
		if pod.Annotations[plan.AnnotationSourceNode] != src.hostname {
			t.Errorf("pod %s restores %s, want %s (rack, then ordinal)", pod.Name, pod.Annotations[plan.AnnotationSourceNode], src.hostname)
		}
		raw, _ := json.Marshal(pod)
		for _, tok := range src.node.Tokens() {
			if strings.Contains(string(raw), `"`+tok+`"`) || strings.Contains(string(raw), "="+tok) {
				t.Fatalf("pod %s carries a token in its spec", pod.Name)
			}
		}
		for _, v := range s3.Secret() {
			if strings.Contains(string(raw), string(v)) && string(v) != s3.Region {
				t.Fatalf("pod %s carries a secret value", pod.Name)
			}
		}
		results, err := runner.RunInitContainers(e.ctx, pod)
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 1 || results[0].ExitCode != 0 {
			t.Fatalf("init container of %s: %+v", pod.Name, results)
		}
		if e.network != nil {
			cur, err := e.kube.CoreV1().Pods(e.ns).Get(e.ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !e.network.Subnet.Contains(net.ParseIP(cur.Status.PodIP)) {
				t.Errorf("%s ran outside the pod network: status.podIP %q", pod.Name, cur.Status.PodIP)
			}
		}
		vol := filepath.Join(runner.Root, e.ns, pod.Name, "volumes", "data-volume")
		want, got := files(t, src.node.DataDirs()[0], restored), files(t, filepath.Join(vol, "data"), func(string) bool { return true })
		if len(want) == 0 || len(got) != len(want) {
			t.Errorf("%s: restored %d files, source has %d", pod.Name, len(got), len(want))
		}
		for p, b := range want {
			if !bytes.Equal(got[p], b) {
				t.Errorf("%s: %s differs from the source's", pod.Name, p)
			}
		}
		// The token configuration: the cassandra.yaml fragment and the JVM options.
		frag, err := os.ReadFile(filepath.Join(vol, "restore-tokens.yaml"))
		if err != nil || string(frag) != agent.TokensYAML(src.node.Tokens()) {
			t.Errorf("%s: tokens fragment %q, %v", pod.Name, frag, err)
		}
		cass, _ := podrunner.Container(pod, "cassandra")
		vars, _, err := runner.ResolveEnv(e.ctx, pod, cass)
		if err != nil {
			t.Fatal(err)
		}
		wantOpts := "-Dcassandra.initial_token=" + strings.Join(src.node.Tokens(), ",") + " -Dcassandra.auto_bootstrap=false"
		if vars[webhook.EnvRestoreJVMOptions] != wantOpts || vars["JVM_EXTRA_OPTS"] != wantOpts {
			t.Errorf("%s: JVM options %q / %q", pod.Name, vars[webhook.EnvRestoreJVMOptions], vars["JVM_EXTRA_OPTS"])
		}
		if vars[webhook.EnvTokensFile] != "/var/lib/cassandra/restore-tokens.yaml" {
			t.Errorf("%s: fragment path %q", pod.Name, vars[webhook.EnvTokensFile])
		}

		// A second run (a restarted pod) downloads nothing.
		before := modTimes(t, vol)
		again, err := runner.Run(e.ctx, pod, "restore")
		if err != nil || again.ExitCode != 0 || !strings.Contains(again.Stderr, "Restore already done") {
			t.Errorf("%s: second run: %v %+v", pod.Name, err, again)
		}
		if after := modTimes(t, vol); len(after) != len(before) {
			t.Errorf("%s: second run changed the volume", pod.Name)
		} else {
			for p, m := range before {
				if !after[p].Equal(m) {
					t.Errorf("%s: second run rewrote %s", pod.Name, p)
				}
			}
		}
	}

	// Status follows the init containers; events tell the story.
	e.waitRestore(cdc, "the restore to complete", func(st *v1alpha1.RestoreStatus) bool {
		if st == nil || st.State != v1alpha1.RestoreCompleted || len(st.Nodes) != 3 {
			return false
		}
		for _, n := range st.Nodes {
			if n.State != v1alpha1.RestoreCompleted {
				return false
			}
		}
		return true
	})
	e.poll("events", func() (bool, error) {
		evs, err := e.kube.CoreV1().Events(e.ns).List(e.ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + cdc})
		if err != nil {
			return false, err
		}
		seen := map[string]bool{}
		for _, ev := range evs.Items {
			seen[ev.Reason] = true
		}
		return seen["RestorePlanned"] && seen["PodRestored"] && seen["RestoreCompleted"], fmt.Errorf("events %v", seen)
	})

	// Another backup: spec.restore cannot change (CEL), it is removed and set again, and
	// re-planned for the new backup.
	for _, n := range nodes {
		if err := n.node.WriteSSTable("ks2", "t3", 999); err != nil {
			t.Fatal(err)
		}
	}
	e.backup("backup-2", s3, location, "snap-2", nodes, v1alpha1.BackupCompleted)
	e.patchDC(cdc, `{"spec":{"restore":null}}`)
	e.patchDC(cdc, `{"spec":{"restore":{"backupName":"backup-2"}}}`)
	e.poll("the new plan", func() (bool, error) {
		cm, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(e.ctx, plan.ConfigMapName(cdc), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		p, err := plan.Decode(cm)
		if err != nil {
			return false, err
		}
		return p.Backup == "backup-2" && p.SnapshotTag == "snap-2" && e.getDC(cdc).Status.Restore.BackupName == "backup-2", nil
	})

	// spec.restore removed: no status, new pods are created unchanged, and the restored
	// pods' token configuration still resolves (a restarted Cassandra container starts).
	e.patchDC(cdc, `{"spec":{"restore":null}}`)
	e.poll("status.restore to go", func() (bool, error) {
		return e.getDC(cdc).Status.Restore == nil, nil
	})
	cass, _ := podrunner.Container(pods[0], "cassandra")
	if vars, _, err := runner.ResolveEnv(e.ctx, pods[0], cass); err != nil || !strings.HasPrefix(vars["JVM_EXTRA_OPTS"], "-Dcassandra.initial_token=") {
		t.Errorf("restored pod's environment after spec.restore was removed: %q, %v", vars["JVM_EXTRA_OPTS"], err)
	}
	dc = e.getDC(cdc)
	e.poll("a pod created without restore", func() (bool, error) {
		pod, err := e.createPod(fmt.Sprintf("cassandra-%s-rack1-9", cdc), dc)
		if err != nil {
			return false, err
		}
		if len(pod.Spec.InitContainers) != 0 {
			e.kube.CoreV1().Pods(e.ns).Delete(e.ctx, pod.Name, metav1.DeleteOptions{})
			return false, fmt.Errorf("pod still injected (webhook cache behind)")
		}
		return true, nil
	})
}

// TestRestoreRefusals: a backup that is not COMPLETED, missing or unreadable is reported
// in conditions, and its pods are denied with the reason; a datacenter smaller than the
// backup plans a union and requires a repair until it is scaled to the backup's size.
func TestRestoreRefusals(t *testing.T) {
	e := newEnv(t, true)
	s3 := emulators.S3(t)
	e.secret(s3.Secret())
	const location = "s3://restore-refusals"
	var nodes []source
	for i := range 3 {
		n := fakecassandra.New(t, fakecassandra.Config{ClusterName: "test-cluster", Datacenter: "dc1", Rack: "rack1", Seed: uint64(200 + i)})
		if err := n.WriteSSTable("ks1", "t1", 4000); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, source{node: n, hostname: fmt.Sprintf("cassandra-src-rack1-%d", i)})
	}
	running := e.backup("backup-running", s3, location, "snap-r", nodes, v1alpha1.BackupRunning)

	waiting := e.datacenter("waiting", "test-cluster", 3, &v1alpha1.RestoreSpec{BackupName: "backup-running"})
	e.waitRestore("waiting", "BackupNotCompleted", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Reason == restore.ReasonBackupNotCompleted && strings.Contains(c.Message, "RUNNING")
	})
	e.poll("a denial naming the backup's state", func() (bool, error) {
		_, err := e.createPod("cassandra-waiting-rack1-0", waiting)
		if err == nil {
			t.Fatal("pod admitted before the backup completed")
		}
		return strings.Contains(err.Error(), "backup backup-running is RUNNING"), err
	})
	// Completed: planned (re-checked without a spec change), and the pod is admitted.
	e.setBackupState(running, v1alpha1.BackupCompleted)
	e.waitRestore("waiting", "the plan after completion", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue
	})
	e.poll("admission after the plan", func() (bool, error) {
		pod, err := e.createPod("cassandra-waiting-rack1-0", waiting)
		return err == nil && len(pod.Spec.InitContainers) == 1, err
	})

	// A backup that does not exist, and one whose topology is not in the bucket.
	e.datacenter("no-backup", "test-cluster", 3, &v1alpha1.RestoreSpec{BackupName: "nope"})
	e.waitRestore("no-backup", "BackupNotFound", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Reason == restore.ReasonBackupNotFound && strings.Contains(c.Message, "backup nope does not exist")
	})
	e.backupObject("backup-elsewhere", location, "never-taken", "test-cluster", "dc1", v1alpha1.BackupCompleted)
	e.datacenter("unreadable", "test-cluster", 3, &v1alpha1.RestoreSpec{BackupName: "backup-elsewhere"})
	e.waitRestore("unreadable", "BackupUnreadable", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Reason == restore.ReasonBackupUnreadable && strings.Contains(c.Message, "no topology of cluster test-cluster for snapshot never-taken")
	})

	// Fewer nodes than the backup is no longer refused (issue 17): the pods take the
	// nodes' union and a full repair is required (test/restore TestRestoreFewerNodes).
	e.datacenter("small", "test-cluster", 2, &v1alpha1.RestoreSpec{BackupName: "backup-running"})
	e.waitRestore("small", "a union plan", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue && len(st.Nodes) == 2 && repairRequired(st) != nil
	})
	// Scaled to the backup's size: one node per pod, no repair required.
	e.patchDC("small", `{"spec":{"nodes":3}}`)
	e.waitRestore("small", "the plan after scaling", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue && len(st.Nodes) == 3 && repairRequired(st) == nil
	})
}
