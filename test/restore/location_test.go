package restore_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

// A backup with spec.locationRef has no storageLocation of its own: the restore plan, and
// the init container after it, read the location the backup recorded in status.location
// (as the backup controller records it, also for a synced import), and the node's
// SSTables come back byte for byte.
func TestRestoreFromLocationRef(t *testing.T) {
	e := newEnv(t, true)
	s3 := emulators.S3(t)
	e.secret(s3.Secret())
	const location = "s3://restore-by-ref"
	n := fakecassandra.New(t, fakecassandra.Config{ClusterName: "test-cluster", Datacenter: "dc1", Rack: "rack1", Seed: 300})
	if err := n.WriteSSTable("ks1", "t1", 12000); err != nil {
		t.Fatal(err)
	}
	nodes := []source{{node: n, hostname: "cassandra-test-dc-cassandra-rack1-0"}}
	inline := e.backup("inline", s3, location, "snap-ref", nodes, v1alpha1.BackupPending)
	if err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Delete(e.ctx, inline.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: "by-ref", Namespace: e.ns},
		Spec: v1alpha1.CassandraBackupSpec{CDC: "test-dc-cassandra", Cluster: "test-cluster", Datacenter: "dc1", SnapshotTag: "snap-ref",
			LocationRef: &v1alpha1.LocationReference{Name: "primary"}, JustCreate: true}}
	b, err := e.client.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(e.ctx, b, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Status.Location = &v1alpha1.ResolvedLocation{Name: "primary", BackupStorage: v1alpha1.BackupStorage{StorageLocation: location, Secret: secretName, Insecure: true}}
	e.setBackupState(b, v1alpha1.BackupCompleted)

	const cdc = "ref-dc"
	dc := e.datacenter(cdc, "clone-cluster", 1, &v1alpha1.RestoreSpec{BackupName: "by-ref"})
	e.waitRestore(cdc, "the plan", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue && st.State == v1alpha1.RestorePlanned
	})
	runner := &podrunner.Runner{Kube: e.kube, Binaries: map[string]string{"cassandra-backup-agent": podrunner.BuildAgent(t)},
		Root: t.TempDir(), Env: []string{"AGENT_KUBECONFIG=" + e.cp.KubeconfigPath}, Network: e.network}
	t.Cleanup(runner.Close)
	name := fmt.Sprintf("cassandra-%s-rack1-0", cdc)
	var pod *corev1.Pod
	e.poll("pod "+name+" to be admitted", func() (bool, error) {
		var err error
		pod, err = e.createPod(name, dc)
		return err == nil, err
	})
	results, err := runner.RunInitContainers(e.ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].ExitCode != 0 {
		t.Fatalf("init container: %+v", results)
	}
	vol := filepath.Join(runner.Root, e.ns, pod.Name, "volumes", "data-volume")
	want, got := files(t, n.DataDirs()[0], restored), files(t, filepath.Join(vol, "data"), func(string) bool { return true })
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("restored %d files, source has %d", len(got), len(want))
	}
	for p, w := range want {
		if !bytes.Equal(got[p], w) {
			t.Errorf("%s differs from the source's", p)
		}
	}
}
