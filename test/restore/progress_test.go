package restore_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/podrunner"
)

// TestRestoreProgressInStatus restores a node through a download capped at 64 KiB/s (the
// operator's extra restore arguments, --bandwidth): while the pod's init container runs,
// status.restore.nodes[] shows its bytes, files, a rate and an ETA, read from the init
// container on the agent's port with the operator's token, and the restore's summary a
// size, rate and ETA; once it completes, all bytes are done and the rate is gone.
func TestRestoreProgressInStatus(t *testing.T) {
	e := newEnv(t, true)
	if e.network == nil {
		t.Skip("the operator reads a restoring pod's progress at its pod IP: needs the pod network (root)")
	}
	e.server.Config.ExtraArgs = []string{"--bandwidth=64KBPS"}
	s3 := emulators.S3(t)
	e.secret(s3.Secret())
	const location = "s3://restore-progress"
	n := fakecassandra.New(t, fakecassandra.Config{ClusterName: "test-cluster", Datacenter: "dc1", Rack: "rack1", Seed: 300})
	if err := n.WriteSSTable("ks1", "t1", 1_200_000); err != nil {
		t.Fatal(err)
	}
	e.backup("backup-p", s3, location, "snap-p", []source{{node: n, hostname: "cassandra-test-dc-cassandra-rack1-0"}}, v1alpha1.BackupCompleted)

	const cdc = "progress-dc"
	dc := e.datacenter(cdc, "progress-cluster", 1, &v1alpha1.RestoreSpec{BackupName: "backup-p"})
	e.waitRestore(cdc, "the plan", func(st *v1alpha1.RestoreStatus) bool { return st != nil && st.State == v1alpha1.RestorePlanned })
	runner := &podrunner.Runner{Kube: e.kube, Binaries: map[string]string{"cassandra-backup-agent": podrunner.BuildAgent(t)},
		Root: t.TempDir(), Env: []string{"AGENT_KUBECONFIG=" + e.cp.KubeconfigPath}, Network: e.network}
	t.Cleanup(runner.Close)
	var pod *corev1.Pod
	name := fmt.Sprintf("cassandra-%s-rack1-0", cdc)
	e.poll("pod "+name+" to be admitted", func() (bool, error) {
		var err error
		pod, err = e.createPod(name, dc)
		return err == nil, err
	})
	ran := make(chan error, 1)
	go func() {
		res, err := runner.RunInitContainers(e.ctx, pod)
		if err == nil && (len(res) != 1 || res[0].ExitCode != 0) {
			err = fmt.Errorf("init container: %+v", res)
		}
		ran <- err
	}()

	live := e.waitRestore(cdc, "bytes, rate and ETA while the init container runs", func(st *v1alpha1.RestoreStatus) bool {
		if st == nil || len(st.Nodes) != 1 {
			return false
		}
		n := st.Nodes[0]
		return n.State == v1alpha1.RestoreRunning && n.BytesTotal > 0 && n.BytesDone > 0 && n.BytesDone < n.BytesTotal &&
			n.FilesTotal > 0 && n.BytesPerSecond > 0 && n.ETA != "" && n.ProgressTime != nil && st.Rate != "" && st.ETA != "" && st.Size != ""
	}).Status.Restore
	ln := live.Nodes[0]
	t.Logf("while restoring: %s at %s, ETA %s; pod %d/%d B, %d B/s, ETA %s", live.Size, live.Rate, live.ETA, ln.BytesDone, ln.BytesTotal, ln.BytesPerSecond, ln.ETA)
	if ln.BytesPerSecond > 4*64<<10 {
		t.Errorf("rate %d B/s with a 64 KiB/s cap", ln.BytesPerSecond)
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	done := e.waitRestore(cdc, "COMPLETED", func(st *v1alpha1.RestoreStatus) bool { return st != nil && st.State == v1alpha1.RestoreCompleted }).Status.Restore
	if dn := done.Nodes[0]; dn.BytesDone != dn.BytesTotal || dn.BytesTotal != ln.BytesTotal || dn.BytesPerSecond != 0 || dn.ETA != "" || done.Rate != "" || done.ETA != "" {
		t.Errorf("completed: %+v, summary %+v", dn, done.ProgressSummary)
	}
}
