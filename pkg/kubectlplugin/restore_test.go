package kubectlplugin_test

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
)

func TestRestore(t *testing.T) {
	e := newEnv(t)
	dcs := e.cs.CassandraoperatorV1alpha1().CassandraDataCenters(e.ns)

	t.Run("dry run creates nothing", func(t *testing.T) {
		out, plan, err := e.run(t.Context(), "restore", "nightly-1", "--datacenter", "dc1-restored", "--nodes", "3", "--racks", "r1,r2,r3", "--dry-run", "-o", "yaml")
		if err != nil {
			t.Fatal(err)
		}
		e.golden("restore-plan.txt", plan)
		var dc v1alpha1.CassandraDataCenter
		if err := yaml.Unmarshal([]byte(out), &dc); err != nil || dc.Kind != "CassandraDataCenter" || dc.Spec.Restore == nil ||
			dc.Spec.Restore.BackupName != "nightly-1" || *dc.Spec.Nodes != 3 || len(dc.Spec.Racks) != 3 {
			t.Fatalf("dry-run -o yaml printed %v:\n%s", err, out)
		}
		if _, err := dcs.Get(t.Context(), "dc1-restored", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("after --dry-run the datacenter exists (or: %v)", err)
		}
	})
	t.Run("creates the datacenter", func(t *testing.T) {
		out, _, err := e.run(t.Context(), "restore", "nightly-1", "--datacenter", "dc1-restored", "--cluster", "clone", "--secret", "other-credentials")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "cassandradatacenter/dc1-restored created") {
			t.Fatalf("restore printed %q", out)
		}
		dc, err := dcs.Get(t.Context(), "dc1-restored", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dc.Spec.Restore == nil || dc.Spec.Restore.BackupName != "nightly-1" || dc.Spec.Restore.Secret != "other-credentials" || dc.Spec.Cluster != "clone" {
			t.Fatalf("created spec %+v", dc.Spec)
		}
	})
	t.Run("tables: dry run creates nothing", func(t *testing.T) {
		out, plan, err := e.run(t.Context(), "restore", "nightly-1", "--table", "shop.orders", "--table", "shop.items", "--truncate", "--name", "orders-back", "--dry-run", "-o", "yaml")
		if err != nil {
			t.Fatal(err)
		}
		e.golden("restore-tables-plan.txt", plan)
		var r v1alpha1.CassandraRestore
		if err := yaml.Unmarshal([]byte(out), &r); err != nil || r.Kind != "CassandraRestore" || r.Spec.BackupName != "nightly-1" ||
			r.Spec.Entities != "shop.orders,shop.items" || !r.Spec.Truncate {
			t.Fatalf("dry-run -o yaml printed %v:\n%s", err, out)
		}
		if _, err := e.cs.CassandraoperatorV1alpha1().CassandraRestores(e.ns).Get(t.Context(), "orders-back", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("after --dry-run the restore exists (or: %v)", err)
		}
	})
	t.Run("tables: creates the restore", func(t *testing.T) {
		out, _, err := e.run(t.Context(), "restore", "nightly-1", "--table", "shop.orders")
		if err != nil {
			t.Fatal(err)
		}
		list, err := e.cs.CassandraoperatorV1alpha1().CassandraRestores(e.ns).List(t.Context(), metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 || list.Items[0].Spec.Truncate || !strings.Contains(out, "cassandrarestore/"+list.Items[0].Name+" created") {
			t.Fatalf("restore printed %q; restores %+v (%v)", out, list, err)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"into an existing datacenter", []string{"nightly-1", "--datacenter", "dc1-restored"}, "exists: a whole-datacenter restore creates a new one"},
		{"of a running backup", []string{"nightly-2", "--datacenter", "dc2"}, "is RUNNING: a restore needs a COMPLETED backup"},
		{"of a missing backup", []string{"absent", "--datacenter", "dc3"}, "not found"},
		{"without --datacenter", []string{"nightly-1"}, "at least one of the flags in the group [datacenter table] is required"},
		{"with an invalid name", []string{"nightly-1", "--datacenter", "Not_A_Name"}, "Invalid value"},
		{"tables and a datacenter", []string{"nightly-1", "--datacenter", "dc4", "--table", "ks.t"}, "none of the others can be"},
		{"a system table", []string{"nightly-1", "--table", "system_auth.roles"}, "system keyspaces cannot be restored"},
		{"tables of a running backup", []string{"nightly-2", "--table", "ks.t"}, "is RUNNING"},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			_, _, err := e.run(t.Context(), append([]string{"restore"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore %v: %v; want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
