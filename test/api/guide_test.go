package api_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/generated/clientset/versioned"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
)

func samplesDir(t *testing.T) string {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "manifests", "samples")
}

// The guide's documents apply with kubectl exactly as the guide prints them, each into
// its own namespace, and the API server fills the documented defaults.
func TestGuideYAMLAppliesUnchanged(t *testing.T) {
	cp := controlplane.Shared(t)
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cp.Config())
	kube := kubernetes.NewForConfigOrDie(cp.Config())

	for _, file := range []string{"cloud-backup-secrets.yaml", "cassandrabackup.yaml", "cassandrabackup-justcreate.yaml", "cassandradatacenter-restore.yaml"} {
		t.Run(file, func(t *testing.T) {
			ns := cp.Namespace(t)
			data, err := os.ReadFile(filepath.Join(samplesDir(t), file))
			if err != nil {
				t.Fatal(err)
			}
			out, err := cp.Kubectl(ctx, data, "apply", "-n", ns, "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply of the guide's %s: %v", file, err)
			}
			if !regexp.MustCompile(`(?m) created$`).MatchString(out) {
				t.Fatalf("kubectl apply did not create the object: %q", out)
			}
			switch file {
			case "cloud-backup-secrets.yaml":
				s, err := kube.CoreV1().Secrets(ns).Get(ctx, "cloud-backup-secrets", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"awssecretaccesskey", "awsaccesskeyid", "awsregion", "awsendpoint", "azurestorageaccount", "azurestoragekey", "gcp"} {
					if len(s.Data[k]) == 0 {
						t.Errorf("secret key %s missing", k)
					}
				}
			case "cassandrabackup.yaml", "cassandrabackup-justcreate.yaml":
				b, err := client.CassandraoperatorV1alpha1().CassandraBackups(ns).Get(ctx, "test-cassandra-backup", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				want := v1alpha1.CassandraBackupSpec{
					CDC: "test-cluster-dc1-cassandra", Cluster: "test-cluster", Datacenter: "dc1",
					StorageLocation: "s3://cassandra-bucket", SnapshotTag: "mySnapshotTag",
					Secret: "cloud-backup-secrets", GlobalRequest: file == "cassandrabackup.yaml",
					JustCreate: file == "cassandrabackup-justcreate.yaml",
					// Defaults from the CRD schema.
					MetadataDirective: v1alpha1.MetadataDirectiveCopy, ConcurrentConnections: 10,
					DeletionPolicy: v1alpha1.DeletionPolicyRetain,
				}
				if b.Spec != want {
					t.Errorf("stored spec\n got %+v\nwant %+v", b.Spec, want)
				}
				if b.Labels["app"] != "cassandra" {
					t.Errorf("labels = %v", b.Labels)
				}
			case "cassandradatacenter-restore.yaml":
				dc, err := client.CassandraoperatorV1alpha1().CassandraDataCenters(ns).Get(ctx, "test-dc-cassandra", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if dc.Spec.Restore == nil || dc.Spec.Restore.BackupName != "test-cassandra-backup-restore-s3" {
					t.Errorf("spec.restore = %+v", dc.Spec.Restore)
				}
			}
			// A second apply of the same document changes nothing (a Secret written
			// with stringData is always "configured" again: kubectl's own behaviour).
			out, err = cp.Kubectl(ctx, data, "apply", "-n", ns, "-f", "-")
			if err != nil || (file != "cloud-backup-secrets.yaml" && !strings.Contains(out, "unchanged")) {
				t.Fatalf("second kubectl apply: %q, %v", out, err)
			}
		})
	}
}

// A CassandraDataCenter is shared with the operator that runs the datacenter: fields we
// do not know survive, in spec, in racks and in status.
func TestDataCenterKeepsUnknownFields(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	ctx := t.Context()
	doc := `apiVersion: cassandraoperator.instaclustr.com/v1alpha1
kind: CassandraDataCenter
metadata:
  name: dc1
spec:
  cluster: test-cluster
  datacenter: dc1
  nodes: 3
  image: cassandra:4.1
  racks:
  - name: west1-a
    zone: europe-west1-a
  restore:
    backupName: b1
`
	if _, err := cp.Kubectl(ctx, []byte(doc), "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cp.Config())
	u, err := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("cassandradatacenters")).Namespace(ns).Get(ctx, "dc1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := u.Object["spec"].(map[string]any)
	if spec["image"] != "cassandra:4.1" {
		t.Errorf("spec.image was pruned: %v", spec)
	}
	rack := spec["racks"].([]any)[0].(map[string]any)
	if rack["zone"] != "europe-west1-a" {
		t.Errorf("racks[0].zone was pruned: %v", rack)
	}
	client := versioned.NewForConfigOrDie(cp.Config())
	dc, err := client.CassandraoperatorV1alpha1().CassandraDataCenters(ns).Get(ctx, "dc1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dc.Spec.Nodes == nil || *dc.Spec.Nodes != 3 || dc.Spec.Racks[0].Name != "west1-a" || dc.Spec.Cluster != "test-cluster" {
		t.Errorf("typed spec = %+v", dc.Spec)
	}
}

// kubectl get prints STATUS and PROGRESS like the guide, and describe shows every node's
// Node, Progress and State.
func TestKubectlShowsProgress(t *testing.T) {
	cp := controlplane.Shared(t)
	ns := cp.Namespace(t)
	ctx := t.Context()
	client := versioned.NewForConfigOrDie(cp.Config())
	b := newBackup("test-cassandra-backup-restore-s3")
	b, err := client.CassandraoperatorV1alpha1().CassandraBackups(ns).Create(ctx, b, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Status = v1alpha1.CassandraBackupStatus{
		State:           v1alpha1.BackupRunning,
		Progress:        "83%",
		ProgressSummary: v1alpha1.ProgressSummary{Size: "1.7 GiB / 2.0 GiB", Rate: "12.5 MiB/s", ETA: "25s"},
		Nodes: []v1alpha1.NodeBackupStatus{
			{Node: "cassandra-test-dc-cassandra-west1-a-0", Progress: "66%", State: v1alpha1.BackupRunning},
			{Node: "cassandra-test-dc-cassandra-west1-b-0", Progress: "48%", State: v1alpha1.BackupRunning},
			{Node: "cassandra-test-dc-cassandra-west1-c-0", Progress: "45%", State: v1alpha1.BackupRunning},
		},
	}
	if _, err := client.CassandraoperatorV1alpha1().CassandraBackups(ns).UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := cp.Kubectl(ctx, nil, "get", "-n", ns, "cassandrabackups.cassandraoperator.instaclustr.com")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get printed %q", out)
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAME STATUS PROGRESS SIZE RATE ETA AGE" {
		t.Errorf("header = %q", lines[0])
	}
	// The sizes, the rate and the ETA are the preformatted strings of status.
	if got := strings.Fields(lines[1]); len(got) != 12 || got[0] != "test-cassandra-backup-restore-s3" || got[1] != "RUNNING" || got[2] != "83%" ||
		strings.Join(got[3:10], " ") != "1.7 GiB / 2.0 GiB 12.5 MiB/s" || got[10] != "25s" {
		t.Errorf("row = %q", lines[1])
	}
	// The short name and the category find it too.
	for _, res := range []string{"cbk", "cassandra"} {
		out, err := cp.Kubectl(ctx, nil, "get", "-n", ns, res)
		if err != nil || !strings.Contains(out, "test-cassandra-backup-restore-s3") {
			t.Errorf("kubectl get %s: %q, %v", res, out, err)
		}
	}
	out, err = cp.Kubectl(ctx, nil, "describe", "-n", ns, "cassandrabackups.cassandraoperator.instaclustr.com")
	if err != nil {
		t.Fatal(err)
	}
	node := regexp.MustCompile(`(?m)^\s+Node:\s+(\S+)\n\s+Progress:\s+(\S+)\n\s+State:\s+(\S+)$`)
	got := node.FindAllStringSubmatch(out, -1)
	if len(got) != 3 || got[0][1] != "cassandra-test-dc-cassandra-west1-a-0" || got[0][2] != "66%" || got[2][3] != "RUNNING" {
		t.Errorf("describe shows nodes %q in:\n%s", got, out)
	}
	// kubectl explain reads the field documentation from the schema.
	out, err = cp.Kubectl(ctx, nil, "explain", "cassandrabackups.spec.snapshotTag")
	if err != nil || !strings.Contains(out, "names the snapshot every node takes") {
		t.Errorf("kubectl explain: %q, %v", out, err)
	}
}

func newBackup(name string) *v1alpha1.CassandraBackup {
	return &v1alpha1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.CassandraBackupSpec{
			CDC: "test-dc-cassandra", Cluster: "test-cluster", Datacenter: "dc1",
			StorageLocation: "s3://cassandra-bucket", SnapshotTag: "tag-" + name,
		},
	}
}
