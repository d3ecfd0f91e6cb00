package cassandra

import (
	"reflect"
	"testing"
)

func TestRenumber(t *testing.T) {
	u1, u2 := "3gtu_0k6k_2qn7k2ax6yslc4pqfc", "3gtu_0k6k_2qn7k2ax6yslc4pqfd"
	tests := []struct {
		name string
		gens [][]string
		want []map[string]string
	}{
		{"no clash", [][]string{{"1", "2"}, {"3"}, {u1}}, []map[string]string{nil, nil, nil}},
		{"numeric clashes go above every node's generations",
			[][]string{{"1", "2", "5"}, {"2", "1", "7"}, {"1", "8"}},
			[]map[string]string{nil, {"1": "9", "2": "10"}, {"1": "11"}}},
		{"a renamed generation never takes a later node's own", [][]string{{"1"}, {"1", "2"}, {"2"}},
			[]map[string]string{nil, {"1": "3"}, {"2": "4"}}},
		{"one node's repeated generation is one SSTable", [][]string{{"4", "4", "4"}, {"4", "4"}},
			[]map[string]string{nil, {"4": "5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Renumber(tt.gens); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Renumber(%v) = %v, want %v", tt.gens, got, tt.want)
			}
		})
	}

	// Time-UUID generations: a clash gets a new identifier of the same time that parses,
	// differs from every other, and is the same on a second run.
	gens := [][]string{{u1, u2, "3"}, {u1, "3"}, {u1}}
	got := Renumber(gens)
	if got[0] != nil || len(got[1]) != 2 || got[1]["3"] != "4" || len(got[2]) != 1 {
		t.Fatalf("Renumber(%v) = %v", gens, got)
	}
	seen := map[string]bool{u1: true, u2: true}
	for _, ng := range []string{got[1][u1], got[2][u1]} {
		d, err := ParseDescriptor("nb-" + ng + "-big-Data.db")
		if err != nil || !d.UUIDGeneration() || ng[:15] != u1[:15] || seen[ng] {
			t.Errorf("new generation %q: %v (time kept: %v, unique: %v)", ng, err, ng[:15] == u1[:15], !seen[ng])
		}
		seen[ng] = true
	}
	if again := Renumber(gens); !reflect.DeepEqual(again, got) {
		t.Errorf("second run %v, first %v", again, got)
	}
	d, _ := ParseDescriptor("nb-7-big-Index.db")
	if n := d.WithGeneration("12").FileName(); n != "nb-12-big-Index.db" {
		t.Errorf("WithGeneration: %s", n)
	}
}
