package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

// The example builds, applies a CassandraBackup with server-side apply, sees it through
// its informer and lister, and exits when the backup reaches COMPLETED.
func TestExampleBuildsAndRuns(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	bin := controlplane.GoBuild(t, "./examples/watch-backups")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--kubeconfig", cp.KubeconfigPath, "--namespace", ns, "--apply", "nightly", "--until", "COMPLETED")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(prefix string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("example exited before printing %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no line %q", prefix)
			}
		}
	}
	expect("APPLIED " + ns + "/nightly snapshotTag=nightly-")
	expect("ADDED " + ns + "/nightly state= progress=")

	// The object the example applied is owned by its field manager.
	client := versioned.NewForConfigOrDie(cp.Config())
	b, err := client.CassandraoperatorV1alpha1().CassandraBackups(ns).Get(ctx, "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.ManagedFields) == 0 || b.ManagedFields[0].Manager != "watch-backups-example" || b.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("managed fields = %+v", b.ManagedFields)
	}
	// A status change shows up as MODIFIED, and COMPLETED ends the example.
	for _, state := range []v1alpha1.BackupState{v1alpha1.BackupRunning, v1alpha1.BackupCompleted} {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			b, err := client.CassandraoperatorV1alpha1().CassandraBackups(ns).Get(ctx, "nightly", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			b.Status.State, b.Status.Progress = state, "50%"
			_, err = client.CassandraoperatorV1alpha1().CassandraBackups(ns).UpdateStatus(ctx, b, metav1.UpdateOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		expect("MODIFIED " + ns + "/nightly state=" + string(state) + " progress=50%")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("example did not exit cleanly after COMPLETED: %v", err)
	}
}
