package profile

import "testing"

func TestForPod(t *testing.T) {
	insta := map[string]string{InstaclustrDatacenter: "dc1", InstaclustrCluster: "c"}
	cass := map[string]string{CassOperatorDatacenter: "dc1", CassOperatorCluster: "c"}
	both := map[string]string{InstaclustrDatacenter: "dc1", CassOperatorDatacenter: "dc1"}
	for _, tc := range []struct {
		name        string
		def         string
		labels, ann map[string]string
		want        string
		ok, err     bool
	}{
		{name: "instaclustr labels", labels: insta, want: Instaclustr, ok: true},
		{name: "cass-operator labels", labels: cass, want: CassOperator, ok: true},
		{name: "cass-operator labels, cass-operator default", def: CassOperator, labels: cass, want: CassOperator, ok: true},
		{name: "both: the default wins", labels: both, want: Instaclustr, ok: true},
		{name: "both: the other default wins", def: CassOperator, labels: both, want: CassOperator, ok: true},
		{name: "the annotation overrides the labels", labels: insta, ann: map[string]string{Annotation: CassOperator}, want: CassOperator, ok: true},
		{name: "no labels", labels: map[string]string{"app": "x"}},
		{name: "an empty label value is no datacenter", labels: map[string]string{CassOperatorDatacenter: ""}},
		{name: "unknown profile annotation", labels: insta, ann: map[string]string{Annotation: "k8ssandra-v0"}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRegistry(tc.def)
			if err != nil {
				t.Fatal(err)
			}
			p, ok, err := r.ForPod(tc.labels, tc.ann)
			if (err != nil) != tc.err || ok != tc.ok || ok && p.Name != tc.want {
				t.Errorf("ForPod = %q, %v, %v; want %q, %v, error %v", p.Name, ok, err, tc.want, tc.ok, tc.err)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	if _, err := NewRegistry("scylla"); err == nil {
		t.Error("unknown default: no error")
	}
	var zero Registry
	if zero.DefaultProfile().Name != Instaclustr {
		t.Errorf("zero registry default %q", zero.DefaultProfile().Name)
	}
	r, _ := NewRegistry(CassOperator)
	if all := r.All(); len(all) != 2 || all[0].Name != CassOperator {
		t.Errorf("All: %v", all)
	}
	if p, err := r.ForObject(nil); err != nil || p.Name != CassOperator {
		t.Errorf("ForObject without annotation: %q %v", p.Name, err)
	}
	if p, err := r.ForObject(map[string]string{Annotation: Instaclustr}); err != nil || p.Name != Instaclustr {
		t.Errorf("ForObject with annotation: %q %v", p.Name, err)
	}
}

func TestPodNames(t *testing.T) {
	n := NameParts{Cluster: "Test_Cluster", Datacenter: "dc1", Resource: "test-dc-cassandra", Rack: "west1-a", Ordinal: 2}
	if got := InstaclustrProfile.PodName(n); got != "cassandra-test-dc-cassandra-west1-a-2" {
		t.Errorf("instaclustr pod name %q", got)
	}
	if got := CassOperatorProfile.PodName(n); got != "test-cluster-dc1-west1-a-sts-2" {
		t.Errorf("cass-operator pod name %q", got)
	}
	if CassOperatorProfile.DataFileDir() != "/var/lib/cassandra/data" || CassOperatorProfile.NodeControl != ManagementAPI {
		t.Errorf("cass-operator: %s, %s", CassOperatorProfile.DataFileDir(), CassOperatorProfile.NodeControl)
	}
	sel := CassOperatorProfile.Labels.Selector("c", "dc1")
	if sel.String() != "cassandra.datastax.com/cluster=c,cassandra.datastax.com/datacenter=dc1" {
		t.Errorf("selector %s", sel)
	}
}
