package restore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/emulators"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestPlanCollectedWithDatacenter deletes a restoring CassandraDataCenter on a control
// plane with kube-controller-manager: its garbage collector removes the plan ConfigMap
// the datacenter owns, and nothing else does.
func TestPlanCollectedWithDatacenter(t *testing.T) {
	cp, err := controlplane.Start(context.Background(), controlplane.Options{ControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	e := newEnvOn(t, cp, true)
	s3 := emulators.S3(t)
	e.secret(s3.Secret())
	n := fakecassandra.New(t, fakecassandra.Config{ClusterName: "test-cluster", Datacenter: "dc1", Rack: "rack1", Seed: 300})
	if err := n.WriteSSTable("ks1", "t1", 5000); err != nil {
		t.Fatal(err)
	}
	e.backup("backup-1", s3, "s3://restore-gc", "snap-1", []source{{node: n, hostname: "cassandra-test-dc-cassandra-rack1-0"}}, v1alpha1.BackupCompleted)

	const cdc = "gc-dc"
	dc := e.datacenter(cdc, "gc-cluster", 1, &v1alpha1.RestoreSpec{BackupName: "backup-1"})
	e.waitRestore(cdc, "the plan", func(st *v1alpha1.RestoreStatus) bool {
		c := ready(st)
		return c != nil && c.Status == metav1.ConditionTrue && st.State == v1alpha1.RestorePlanned
	})
	cm, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(e.ctx, plan.ConfigMapName(cdc), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != dc.UID {
		t.Fatalf("plan ConfigMap owners %+v, want the datacenter %s", cm.OwnerReferences, dc.UID)
	}

	start := time.Now()
	if err := e.client.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns).Delete(e.ctx, cdc, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.poll("the garbage collector to remove the plan ConfigMap", func() (bool, error) {
		_, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(e.ctx, cm.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("still there (err %v)\n%s", err, cp.ControllerManagerLog())
	})
	t.Logf("plan ConfigMap collected %s after the datacenter's deletion", time.Since(start).Round(100*time.Millisecond))
}
