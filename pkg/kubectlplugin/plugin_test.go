package kubectlplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/pkg/kubectlplugin"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMain(m *testing.M) { os.Exit(controlplane.Main(m)) }

// env is a namespace of the shared control plane with three backups in the states a
// user meets: completed, running and failed.
type env struct {
	t          *testing.T
	cp         *controlplane.ControlPlane
	ns         string
	cs         versioned.Interface
	now        time.Time
	kubeconfig string
}

func newEnv(t *testing.T) *env {
	cp := controlplane.Shared(t)
	e := &env{t: t, cp: cp, ns: cp.Namespace(t), cs: versioned.NewForConfigOrDie(cp.Config()), kubeconfig: cp.KubeconfigPath}
	var newest time.Time
	for _, b := range []struct {
		name, state string
		nodes       []v1alpha1.NodeBackupStatus
		ready       metav1.Condition
	}{
		{"nightly-1", "COMPLETED", []v1alpha1.NodeBackupStatus{
			node("cassandra-dc1-r1-0", "r1", "COMPLETED", 2202009, 2202009, ""),
			node("cassandra-dc1-r2-0", "r2", "COMPLETED", 1048576, 1048576, ""),
			node("cassandra-dc1-r3-0", "r3", "COMPLETED", 3145728000, 3145728000, ""),
		}, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Completed", Message: "every node's files and manifest are in the bucket"}},
		{"nightly-2", "RUNNING", []v1alpha1.NodeBackupStatus{
			rated(node("cassandra-dc1-r1-0", "r1", "RUNNING", 1101004, 2202009, ""), 262144, "4s"),
			node("cassandra-dc1-r2-0", "r2", "COMPLETED", 1048576, 1048576, ""),
		}, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Running", Message: "1 of 2 nodes uploaded"}},
		{"weekly-1", "FAILED", []v1alpha1.NodeBackupStatus{
			node("cassandra-dc1-r1-0", "r1", "FAILED", 0, 4096, "upload sstable: SlowDown: please reduce your request rate"),
		}, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "NodeFailed", Message: "node cassandra-dc1-r1-0 failed"}},
	} {
		created := e.create(b.name, "")
		newest = created.CreationTimestamp.Time
		created.Status = v1alpha1.CassandraBackupStatus{State: v1alpha1.BackupState(b.state), Nodes: b.nodes, Conditions: []metav1.Condition{b.ready}}
		if b.state == "RUNNING" { // as the operator summarizes its nodes
			created.Status.ProgressSummary = v1alpha1.ProgressSummary{Size: "2.0 MiB / 3.1 MiB", Rate: "256.0 KiB/s", ETA: "4s"}
		}
		for i := range created.Status.Conditions {
			created.Status.Conditions[i].LastTransitionTime = created.CreationTimestamp
		}
		if b.state == "COMPLETED" {
			start, end := metav1.NewTime(created.CreationTimestamp.Add(24*time.Hour)), metav1.NewTime(created.CreationTimestamp.Add(25*time.Hour))
			created.Status.StartTime, created.Status.CompletionTime = &start, &end
		}
		e.setStatus(created)
	}
	// Every object is 26h old on this clock, whatever second it was created in.
	e.now = newest.Add(26 * time.Hour)
	return e
}

func node(name, rack, state string, done, total int64, msg string) v1alpha1.NodeBackupStatus {
	return v1alpha1.NodeBackupStatus{Node: name, Rack: rack, State: v1alpha1.BackupState(state), BytesUploaded: done, BytesTotal: total,
		FilesTotal: 12, FilesSkipped: 3, Attempts: 1, Message: msg}
}

// rated is n uploading at bytesPerSecond with eta left, as the operator writes it.
func rated(n v1alpha1.NodeBackupStatus, bytesPerSecond int64, eta string) v1alpha1.NodeBackupStatus {
	n.TransferRate = v1alpha1.TransferRate{BytesPerSecond: bytesPerSecond, ETA: eta}
	return n
}

func (e *env) create(name, tag string) *v1alpha1.CassandraBackup {
	e.t.Helper()
	if tag == "" {
		tag = name
	}
	b, err := e.cs.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(context.Background(), &v1alpha1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       v1alpha1.CassandraBackupSpec{CDC: "cassandra-dc1", Cluster: "prod", Datacenter: "dc1", StorageLocation: "s3://cassandra-backups", SnapshotTag: tag, Secret: "s3-credentials"},
	}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) setStatus(b *v1alpha1.CassandraBackup) *v1alpha1.CassandraBackup {
	e.t.Helper()
	out, err := e.cs.CassandraoperatorV1alpha1().CassandraBackups(e.ns).UpdateStatus(context.Background(), b, metav1.UpdateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// run runs the plugin with args against the env's namespace; it returns stdout, stderr
// and the command's error.
func (e *env) run(ctx context.Context, args ...string) (string, string, error) {
	var out, errOut syncBuffer
	err := e.runTo(ctx, &out, &errOut, args...)
	return out.String(), errOut.String(), err
}

func (e *env) runTo(ctx context.Context, out, errOut io.Writer, args ...string) error {
	cmd := kubectlplugin.NewCommand(kubectlplugin.Streams{In: strings.NewReader(""), Out: out, Err: errOut}, func() time.Time { return e.now })
	cmd.SetArgs(append([]string{"--kubeconfig", e.kubeconfig, "-n", e.ns}, args...))
	return cmd.ExecuteContext(ctx)
}

// syncBuffer is a bytes.Buffer that a running command writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var timestamps = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

// golden compares got, with the namespace and timestamps masked, to testdata/NAME.
func (e *env) golden(name, got string) {
	e.t.Helper()
	got = timestamps.ReplaceAllString(strings.ReplaceAll(got, e.ns, "<namespace>"), "<time>")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		e.t.Fatalf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestList(t *testing.T) {
	e := newEnv(t)
	out, _, err := e.run(t.Context(), "list")
	if err != nil {
		t.Fatal(err)
	}
	e.golden("list.txt", out)

	out, _, err = e.run(t.Context(), "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list v1alpha1.CassandraBackupList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list -o json is not a list: %v", err)
	}
	if len(list.Items) != 3 || list.Items[0].Kind != "CassandraBackup" || list.Items[1].Status.State != v1alpha1.BackupRunning {
		t.Fatalf("list -o json: %d items, first kind %q", len(list.Items), list.Items[0].Kind)
	}

	if _, _, err := e.run(t.Context(), "list", "-o", "wide"); err == nil || !strings.Contains(err.Error(), "want json or yaml") {
		t.Fatalf("list -o wide: %v; want an error naming the formats", err)
	}
}

func TestDescribe(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"nightly-1", "nightly-2", "weekly-1"} {
		out, _, err := e.run(t.Context(), "describe", name)
		if err != nil {
			t.Fatal(err)
		}
		e.golden("describe-"+name+".txt", out)
	}
	out, _, err := e.run(t.Context(), "describe", "nightly-2", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b v1alpha1.CassandraBackup
	if err := yaml.Unmarshal([]byte(out), &b); err != nil || b.Kind != "CassandraBackup" || b.APIVersion != v1alpha1.SchemeGroupVersion.String() || len(b.Status.Nodes) != 2 {
		t.Fatalf("describe -o yaml: %v, kind %q apiVersion %q, %d nodes", err, b.Kind, b.APIVersion, len(b.Status.Nodes))
	}
	if _, _, err := e.run(t.Context(), "describe", "absent"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("describe of a missing backup: %v", err)
	}
}

// TestCompletion asks the completion entry point the shells call for backup names.
func TestCompletion(t *testing.T) {
	e := newEnv(t)
	out, _, err := e.run(t.Context(), "__complete", "describe", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nightly-1", "nightly-2", "weekly-1"} {
		if !strings.Contains(out, name+"\n") {
			t.Fatalf("completion of describe lacks %s:\n%s", name, out)
		}
	}
	out, _, err = e.run(t.Context(), "completion", "bash")
	if err != nil || !strings.Contains(out, "kubectl-cassandra_backup") {
		t.Fatalf("completion bash: %v, %d bytes", err, len(out))
	}
}
