package restore

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

func TestRewrites(t *testing.T) {
	nts := cassandra.NetworkTopologyStrategy
	repl := map[string]cassandra.Replication{
		"ks1":                {"class": nts, "dc1": "3"},
		"ks2":                {"class": nts, "dc1": "2", "east": "1"},
		"done":               {"class": nts, "dc2": "3"},
		"simple":             {"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "1"},
		"system_auth":        {"class": nts, "dc1": "3"},
		"system_distributed": {"class": nts, "dc1": "3"},
		"system":             {"class": "org.apache.cassandra.locator.LocalStrategy"},
		"odd":                {"class": nts, "dc1": "3/1"},
	}
	out, skipped := rewrites(repl, nil, "dc1", "dc2")
	var got []string
	for _, r := range out {
		got = append(got, r.keyspace+" "+cassandra.FormatFactors(r.before)+" → "+cassandra.FormatFactors(r.after))
	}
	want := []string{"ks1 dc1:3 → dc2:3", "ks2 dc1:2,east:1 → dc2:2,east:1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rewrites %q, want %q", got, want)
	}
	if len(skipped) != 1 || !strings.HasPrefix(skipped[0], "odd ") {
		t.Errorf("skipped %q", skipped)
	}
	// Only the backup's entities were restored.
	es, _ := cassandra.ParseEntities("system_schema,ks2.t1")
	only, _ := rewrites(repl, es, "dc1", "dc2")
	if len(only) != 1 || only[0].keyspace != "ks2" {
		t.Errorf("with entities: %+v", only)
	}
	// Recording the same rewrites twice lists each keyspace once.
	st := &v1alpha1.RestoreStatus{}
	if !recordChanges(st, only) || recordChanges(st, only) || len(st.ReplicationChanges) != 1 ||
		st.ReplicationChanges[0] != (v1alpha1.ReplicationChange{Keyspace: "ks2", From: "dc1:2,east:1", To: "dc2:2,east:1"}) {
		t.Errorf("recorded %+v", st.ReplicationChanges)
	}
}

func TestRename(t *testing.T) {
	b := &v1alpha1.CassandraBackup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1alpha1.CassandraBackupSpec{Datacenter: "dc1", Entities: "system_schema,ks1,ks2.t"}}
	for _, tc := range []struct {
		target string
		want   bool
	}{{"dc1", false}, {"", false}, {"dc2", true}} {
		dc := &v1alpha1.CassandraDataCenter{Spec: v1alpha1.CassandraDataCenterSpec{Datacenter: tc.target}}
		if _, _, ok := rename(dc, b); ok != tc.want {
			t.Errorf("datacenter %q: renamed %v", tc.target, ok)
		}
	}
	msg := manualMsg(profile.InstaclustrProfile, b.Spec.Entities, "dc1", "dc2")
	for _, s := range []string{"jolokia", "ks1, ks2", "ALTER KEYSPACE <keyspace> WITH replication = {'class': 'NetworkTopologyStrategy', 'dc2': <its factor in dc1>", "nodetool repair -full"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q: %s", s, msg)
		}
	}
}
