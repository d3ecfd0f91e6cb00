package cassandra

import (
	"reflect"
	"testing"
)

func TestRenameDatacenter(t *testing.T) {
	nts := func(kv ...string) Replication {
		r := Replication{ReplicationClass: NetworkTopologyStrategy}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i]] = kv[i+1]
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		in      Replication
		after   map[string]int
		changed bool
		err     bool
	}{
		{"one dc", nts("dc1", "3"), map[string]int{"dc2": 3}, true, false},
		{"several dcs: the others kept", nts("dc1", "3", "east", "2", "west", "1"), map[string]int{"dc2": 3, "east": 2, "west": 1}, true, false},
		{"short class name", Replication{"class": "NetworkTopologyStrategy", "dc1": "2"}, map[string]int{"dc2": 2}, true, false},
		{"already rewritten", nts("dc2", "3", "east", "2"), nil, false, false},
		{"names both: the new one keeps its factor", nts("dc1", "3", "dc2", "1"), map[string]int{"dc2": 1}, true, false},
		{"SimpleStrategy left alone", Replication{"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "3"}, nil, false, false},
		{"LocalStrategy left alone", Replication{"class": "org.apache.cassandra.locator.LocalStrategy"}, nil, false, false},
		{"transient replicas refused", nts("dc1", "3/1"), nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, after, changed, err := RenameDatacenter(tc.in, "dc1", "dc2")
			if (err != nil) != tc.err || changed != tc.changed || !reflect.DeepEqual(after, tc.after) {
				t.Fatalf("got %v, %v, %v; want %v, %v, error %v", after, changed, err, tc.after, tc.changed, tc.err)
			}
			if !changed {
				return
			}
			// Applied again (the rewritten replication read back), it changes nothing.
			again := Replication{ReplicationClass: NetworkTopologyStrategy}
			for dc, n := range after {
				again[dc] = FormatFactors(map[string]int{dc: n})[len(dc)+1:]
			}
			if _, _, changed, _ := RenameDatacenter(again, "dc1", "dc2"); changed {
				t.Errorf("a second rewrite of %v changes it", again)
			}
		})
	}
}

func TestFormatFactors(t *testing.T) {
	if got := FormatFactors(map[string]int{"b": 2, "a": 3}); got != "a:3,b:2" {
		t.Error(got)
	}
}
