package tablerestore

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
)

func src(host, rack, id string) layout.NodeBackup {
	return layout.NodeBackup{Host: layout.Host{Hostname: host, Rack: rack, NodeID: id}}
}

func dst(pod, rack, id string) live {
	return live{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod}}, id: api.Identity{HostID: id, Rack: rack}}
}

func TestMapNodes(t *testing.T) {
	sources := []layout.NodeBackup{src("a-0", "r1", "h1"), src("b-0", "r2", "h2"), src("a-1", "r1", "h3")}
	for _, tc := range []struct {
		name   string
		nodes  []live
		sameDC bool
		want   map[string]string // target pod → source host
		err    string
	}{
		{"by host id in the source datacenter", []live{dst("x-0", "r2", "h1"), dst("x-1", "r1", "h2"), dst("x-2", "r1", "h3")}, true,
			map[string]string{"x-0": "a-0", "x-1": "b-0", "x-2": "a-1"}, ""},
		{"by rack and ordinal when host ids are not live", []live{dst("c-1", "r1", "n1"), dst("c-0", "r1", "n2"), dst("d-0", "r2", "n3")}, true,
			map[string]string{"c-1": "a-1", "c-0": "a-0", "d-0": "b-0"}, ""},
		{"by rack and ordinal into another datacenter", []live{dst("c-0", "r1", "h1"), dst("c-1", "r1", "h2"), dst("d-0", "r2", "h3")}, false,
			map[string]string{"c-0": "a-0", "c-1": "a-1", "d-0": "b-0"}, ""},
		{"fewer nodes", []live{dst("c-0", "r1", "n1"), dst("d-0", "r2", "n3")}, false, nil, "the backup has 3 nodes, the datacenter 2"},
		{"racks of other sizes", []live{dst("c-0", "r1", "n1"), dst("d-0", "r2", "n2"), dst("d-1", "r2", "n3")}, false, nil, `rack "r1" has 2 nodes in the backup and 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs, err := mapNodes(sources, tc.nodes, tc.sameDC)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range pairs {
				got[p.dst.pod.Name] = p.src.Host.Hostname
			}
			if len(got) != len(tc.want) {
				t.Fatalf("pairs %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s ← %s, want %s", k, got[k], v)
				}
			}
		})
	}
	if !sameTokens([]string{"3", "1"}, []string{"1", "3"}) || sameTokens([]string{"1"}, []string{"2"}) {
		t.Error("sameTokens")
	}
}
