package kubectlplugin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// TestVerify creates a drill of a COMPLETED backup, plays the operator's part (the
// drill's result in status) and checks the printed result and the exit status; refuses a
// backup that is not COMPLETED; --no-wait -o json prints the created object.
func TestVerify(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	name := "nightly-1-" + e.now.UTC().Format("20060102-150405")
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := e.run(ctx, "verify", "nightly-1", "--sample", "10%")
		done <- result{out, err}
	}()
	api := e.cs.CassandraoperatorV1alpha1().CassandraBackupVerifications(e.ns)
	var v *v1alpha1.CassandraBackupVerification
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		v, err = api.Get(ctx, name, metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatalf("no verification %s: %v", name, err)
	}
	if v.Spec.BackupName != "nightly-1" || v.Spec.Sample != "10%" {
		t.Errorf("spec %+v", v.Spec)
	}
	v.Status = v1alpha1.CassandraBackupVerificationStatus{State: v1alpha1.VerificationFailed, ObjectsVerified: 14, FailureCount: 2,
		Message: "2 failures in 14 objects checked; first: prod/dc1/h1/data/ks1/t1-0a/1-99/nb-1-big-Data.db: sha256 0f, the manifest records 3c",
		Nodes: []v1alpha1.NodeVerification{
			{Node: "cassandra-dc1-r1-0", HostID: "h1", ObjectsTotal: 70, ObjectsVerified: 7, BytesVerified: 2202009, FailureCount: 2,
				Failures: []v1alpha1.VerificationFailure{{Key: "prod/dc1/h1/data/ks1/t1-0a/1-99/nb-1-big-Data.db", Reason: "sha256 0f, the manifest records 3c"}}},
			{Node: "cassandra-dc1-r2-0", HostID: "h2", ObjectsTotal: 70, ObjectsVerified: 7, BytesVerified: 1048576},
		}}
	if _, err := api.UpdateStatus(ctx, v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err == nil || !strings.Contains(r.err.Error(), "is FAILED") {
		t.Errorf("a FAILED drill exits with %v", r.err)
	}
	e.golden("verify-failed.txt", strings.ReplaceAll(r.out, name, "nightly-1-<time>"))

	out, _, err := e.run(ctx, "describe", "nightly-1")
	if err != nil || !strings.Contains(out, "Last verification: "+name+" FAILED, 14 objects verified, 2 failures") {
		t.Errorf("describe does not show the last verification (%v):\n%s", err, out)
	}
	if _, _, err := e.run(ctx, "verify", "nightly-2"); err == nil || !strings.Contains(err.Error(), "only a COMPLETED backup") {
		t.Errorf("a RUNNING backup: %v", err)
	}
	e.now = e.now.Add(time.Hour)
	out, _, err = e.run(ctx, "verify", "nightly-1", "--no-wait", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var created v1alpha1.CassandraBackupVerification
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Kind != "CassandraBackupVerification" || created.Spec.BackupName != "nightly-1" {
		t.Errorf("--no-wait -o json: %v %+v", err, created)
	}
}
