package restore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/controller/restore"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

// topologyNodes makes n fake nodes of one cluster (shared table ids), spread over racks in
// order, each with user data, system_auth and clashing generations.
func topologyNodes(t *testing.T, prefix string, seed uint64, racks ...string) []source {
	var out []source
	for i, rack := range racks {
		n := fakecassandra.New(t, fakecassandra.Config{ClusterName: "topo-cluster", Datacenter: "dc1", Rack: rack, Seed: seed + uint64(i), SchemaSeed: seed})
		for _, w := range []struct {
			ks, table string
			size      int
		}{{"ks1", "t1", 6000 + 100*i}, {"ks1", "t1", 2000}, {"ks2", "t3", 1500 + i}, {"system_auth", "roles", 300 + i}} {
			if err := n.WriteSSTable(w.ks, w.table, w.size); err != nil {
				t.Fatal(err)
			}
		}
		ord := 0
		for _, s := range out {
			if s.node.Rack() == rack {
				ord++
			}
		}
		out = append(out, source{node: n, hostname: fmt.Sprintf("%s-%s-%d", prefix, rack, ord)})
	}
	return out
}

// topologyDC creates a CassandraDataCenter of the given racks and size.
func (e *env) topologyDC(name string, nodes int32, racks []string, r *v1alpha1.RestoreSpec) *v1alpha1.CassandraDataCenter {
	e.t.Helper()
	dc := &v1alpha1.CassandraDataCenter{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: v1alpha1.CassandraDataCenterSpec{Cluster: "topo-clone", Datacenter: sourceDC, Nodes: &nodes, Restore: r}}
	for _, rk := range racks {
		dc.Spec.Racks = append(dc.Spec.Racks, v1alpha1.Rack{Name: rk})
	}
	out, err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Create(e.ctx, dc, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// restoreAll creates the planned pods, runs their init containers and checks that each
// pod holds exactly its planned sources' SSTables (fakecassandra.CheckUnion) and their
// tokens; it returns the pods by name.
func (e *env) restoreAll(runner *podrunner.Runner, dc *v1alpha1.CassandraDataCenter, nodes []source, auth bool) map[string]*corev1.Pod {
	t := e.t
	t.Helper()
	cm, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(e.ctx, plan.ConfigMapName(dc.Name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Decode(cm)
	if err != nil {
		t.Fatal(err)
	}
	byHost := map[string]source{}
	for _, n := range nodes {
		byHost[n.hostname] = n
	}
	keep := restored
	if auth {
		keep = func(ks string) bool { return restored(ks) || ks == "system_auth" }
	}
	seen := map[string]int{}
	pods := map[string]*corev1.Pod{}
	for _, name := range p.PodNames() {
		var pod *corev1.Pod
		e.poll("pod "+name+" to be admitted", func() (bool, error) {
			pod, err = e.createPod(name, dc)
			return err == nil, err
		})
		pods[name] = pod
		results, err := runner.RunInitContainers(e.ctx, pod)
		if err != nil || len(results) != 1 || results[0].ExitCode != 0 {
			t.Fatalf("init container of %s: %+v %v", name, results, err)
		}
		var srcs []map[string][]byte
		var tokens []string
		for _, h := range p.Pods[name].SourceNodes() {
			s := byHost[h]
			seen[h]++
			srcs = append(srcs, files(t, s.node.DataDirs()[0], keep))
			tokens = append(tokens, s.node.Tokens()...)
		}
		vol := filepath.Join(runner.Root, e.ns, name, "volumes", "data-volume")
		renumbered, err := fakecassandra.CheckUnion(srcs, files(t, filepath.Join(vol, "data"), func(string) bool { return true }))
		if err != nil {
			t.Errorf("%s restoring %v: %v", name, p.Pods[name].SourceNodes(), err)
		}
		if len(srcs) > 1 && renumbered == 0 {
			t.Errorf("%s: no SSTable renumbered although its sources' generations clash", name)
		}
		want := agent.TokensYAML(tokens)
		if len(srcs) > 1 {
			want += fmt.Sprintf("num_tokens: %d\n", len(tokens))
		}
		if frag, err := os.ReadFile(filepath.Join(vol, "restore-tokens.yaml")); err != nil || string(frag) != want {
			t.Errorf("%s: tokens fragment %q, want %q (%v)", name, frag, want, err)
		}
		cass, _ := podrunner.Container(pod, "cassandra")
		vars, _, err := runner.ResolveEnv(e.ctx, pod, cass)
		if err != nil || vars["JVM_EXTRA_OPTS"] != plan.JVMOptions(tokens) {
			t.Errorf("%s: JVM options %q, want the union's (%v)", name, vars["JVM_EXTRA_OPTS"], err)
		}
	}
	for _, n := range nodes {
		if seen[n.hostname] != 1 {
			t.Errorf("source %s restored by %d pods, want exactly 1", n.hostname, seen[n.hostname])
		}
	}
	return pods
}

func newRunner(t *testing.T, e *env) *podrunner.Runner {
	runner := &podrunner.Runner{Kube: e.kube, Binaries: map[string]string{"cassandra-backup-agent": podrunner.BuildAgent(t)},
		Root: t.TempDir(), Env: []string{"AGENT_KUBECONFIG=" + e.cp.KubeconfigPath}, Network: e.network}
	t.Cleanup(runner.Close)
	return runner
}

func repairRequired(st *v1alpha1.RestoreStatus) *metav1.Condition {
	if st == nil {
		return nil
	}
	return meta.FindStatusCondition(st.Conditions, restore.TypeRepairRequired)
}

// TestRestoreFewerNodes: 6 nodes over 3 racks into 3 pods over 3 racks of other names
// (the automatic mapping), and 3 nodes into 2 pods with an explicit rackMap and
// includeAuth, through the controller, the webhook and the real init container: every
// source SSTable on exactly one pod byte for byte, clashing generations renumbered,
// tokens the union, RepairRequired in status.
func TestRestoreFewerNodes(t *testing.T) {
	e := newEnv(t, true)
	s3 := emulators.S3(t)
	e.secret(s3.Secret())
	runner := newRunner(t, e)

	six := topologyNodes(t, "src6", 300, "r1", "r1", "r2", "r2", "r3", "r3")
	e.backup("backup-six", s3, "s3://topology", "six", six, v1alpha1.BackupCompleted)
	dc := e.topologyDC("six-to-three", 3, []string{"x", "y", "z"}, &v1alpha1.RestoreSpec{BackupName: "backup-six"})
	e.waitRestore(dc.Name, "the 6 → 3 plan", func(st *v1alpha1.RestoreStatus) bool {
		c, r := ready(st), repairRequired(st)
		return c != nil && c.Status == metav1.ConditionTrue && len(st.Nodes) == 3 && r != nil && r.Status == metav1.ConditionTrue &&
			strings.Contains(r.Message, "full repair")
	})
	pods := e.restoreAll(runner, dc, six, false)
	for rack, want := range map[string]string{"x": "src6-r1-0,src6-r1-1", "y": "src6-r2-0,src6-r2-1", "z": "src6-r3-0,src6-r3-1"} {
		if got := pods["cassandra-six-to-three-"+rack+"-0"].Annotations[plan.AnnotationSourceNode]; got != want {
			t.Errorf("rack %s restores %s, want %s (racks mapped in sorted order)", rack, got, want)
		}
	}
	e.waitRestore(dc.Name, "the 6 → 3 restore to complete", func(st *v1alpha1.RestoreStatus) bool {
		return st != nil && st.State == v1alpha1.RestoreCompleted && repairRequired(st) != nil
	})

	three := topologyNodes(t, "src3", 400, "rack1", "rack1", "rack1")
	e.backup("backup-three", s3, "s3://topology", "three", three, v1alpha1.BackupCompleted)
	dc2 := e.topologyDC("three-to-two", 2, []string{"west"}, &v1alpha1.RestoreSpec{BackupName: "backup-three",
		RackMap: map[string]string{"rack1": "west"}, IncludeAuth: true})
	e.waitRestore(dc2.Name, "the 3 → 2 plan", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue && len(st.Nodes) == 2 && repairRequired(st) != nil
	})
	pods = e.restoreAll(runner, dc2, three, true)
	if a, b := pods["cassandra-three-to-two-west-0"].Annotations[plan.AnnotationSourceNode], pods["cassandra-three-to-two-west-1"].Annotations[plan.AnnotationSourceNode]; a != "src3-rack1-0,src3-rack1-1" || b != "src3-rack1-2" {
		t.Errorf("3 → 2: %s and %s, want two and one", a, b)
	}
}

// TestRestoreTopologyRefusals: a rackMap that leaves a rack out, and a StatefulSet whose
// volume is smaller than the data planned for a pod, are refused with a condition, an
// event and a denial; the same restore without the StatefulSet's limit plans.
func TestRestoreTopologyRefusals(t *testing.T) {
	e := newEnv(t, true)
	s3 := emulators.S3(t)
	e.secret(s3.Secret())
	nodes := topologyNodes(t, "src", 500, "r1", "r2")
	e.backup("backup-two", s3, "s3://topology-refusals", "two", nodes, v1alpha1.BackupCompleted)

	unmapped := e.topologyDC("unmapped", 2, []string{"x", "y"}, &v1alpha1.RestoreSpec{BackupName: "backup-two", RackMap: map[string]string{"r1": "x"}})
	e.waitRestore(unmapped.Name, "RackUnmapped", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Reason == restore.ReasonRackUnmapped && strings.Contains(c.Message, "no entry for the backup's rack r2") && st.State == v1alpha1.RestoreFailed
	})
	e.poll("a denial naming the rack", func() (bool, error) {
		_, err := e.createPod("cassandra-unmapped-x-0", unmapped)
		if err == nil {
			t.Fatal("pod admitted without a plan")
		}
		return strings.Contains(err.Error(), "rack r2"), err
	})

	// One pod for both nodes, on a 1 KiB volume.
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "cassandra-small-disk-x", Namespace: e.ns},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "c"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "c"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "cassandra", Image: "cassandra:4.1"}}}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data-volume"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Ki")}}}}},
		}}
	if _, err := e.kube.AppsV1().StatefulSets(e.ns).Create(e.ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.topologyDC("small-disk", 1, []string{"x"}, &v1alpha1.RestoreSpec{BackupName: "backup-two"})
	e.waitRestore("small-disk", "InsufficientDisk", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Reason == restore.ReasonInsufficientDisk && strings.Contains(c.Message, "cassandra-small-disk-x-0 needs") &&
			strings.Contains(c.Message, "its volume has 1Ki")
	})
	// Without a StatefulSet the plan is made, and says the disk was not checked.
	e.topologyDC("no-sts", 1, []string{"x"}, &v1alpha1.RestoreSpec{BackupName: "backup-two"})
	e.waitRestore("no-sts", "the plan without a disk check", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "disk space not checked")
	})
}
