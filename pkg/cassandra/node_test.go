package cassandra

import (
	"reflect"
	"testing"
)

func TestParseEntities(t *testing.T) {
	tests := []struct {
		in      string
		want    Entities
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "system_schema,testks1,testks2", want: Entities{{Keyspace: "system_schema"}, {Keyspace: "testks1"}, {Keyspace: "testks2"}}},
		{in: "ks1.t1, ks2", want: Entities{{Keyspace: "ks1", Table: "t1"}, {Keyspace: "ks2"}}},
		{in: "ks1,ks1", want: Entities{{Keyspace: "ks1"}}},
		{in: "ks1.t1.x", wantErr: true},
		{in: "ks1.", wantErr: true},
		{in: ".t1", wantErr: true},
		{in: "../etc", wantErr: true},
		{in: "ks/x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseEntities(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEntitiesMatch(t *testing.T) {
	es := Entities{{Keyspace: "ks1"}, {Keyspace: "ks2", Table: "t1"}}
	tests := []struct {
		ks, table string
		want      bool
	}{
		{"ks1", "anything", true},
		{"ks2", "t1", true},
		{"ks2", "t2", false},
		{"ks3", "t1", false},
	}
	for _, tt := range tests {
		if got := es.Match(tt.ks, tt.table); got != tt.want {
			t.Errorf("Match(%s, %s) = %v, want %v", tt.ks, tt.table, got, tt.want)
		}
	}
	if !Entities(nil).Match("any", "table") {
		t.Error("empty entities must match everything")
	}
	if !es.MatchKeyspace("ks2") || es.MatchKeyspace("ks3") {
		t.Error("MatchKeyspace")
	}
	if got := es.Keyspaces(); !reflect.DeepEqual(got, []string{"ks1", "ks2"}) {
		t.Errorf("Keyspaces() = %v", got)
	}
	if got := es.String(); got != "ks1,ks2.t1" {
		t.Errorf("String() = %q", got)
	}
}

func TestIsSystemKeyspace(t *testing.T) {
	if !IsSystemKeyspace("system_schema") || !IsSystemKeyspace("system") || IsSystemKeyspace("system_x") || IsSystemKeyspace("ks") {
		t.Error("IsSystemKeyspace")
	}
}
