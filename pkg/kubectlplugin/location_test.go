package kubectlplugin_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

// list's LOCATION column names the CassandraBackupLocation of a backup with locationRef.
func TestListLocationRef(t *testing.T) {
	e := newEnv(t)
	_, err := e.cs.CassandraoperatorV1alpha1().CassandraBackups(e.ns).Create(context.Background(), &v1alpha1.CassandraBackup{
		ObjectMeta: metav1.ObjectMeta{Name: "by-ref", Namespace: e.ns},
		Spec: v1alpha1.CassandraBackupSpec{CDC: "cassandra-dc1", Cluster: "prod", Datacenter: "dc1", SnapshotTag: "by-ref",
			LocationRef: &v1alpha1.LocationReference{Name: "primary"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := e.run(t.Context(), "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "by-ref" {
			if !strings.Contains(line, " primary ") {
				t.Errorf("LOCATION of a locationRef backup: %q", line)
			}
			return
		}
	}
	t.Errorf("by-ref not listed:\n%s", out)
}
