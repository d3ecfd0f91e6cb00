package verify

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
)

func TestSummaryFits(t *testing.T) {
	var r Result
	for i := range 12 {
		n := NodeResult{Node: fmt.Sprintf("cassandra-dc1-rack1-%d", i), HostID: strings.Repeat("a", 36), Total: 100, Objects: 90}
		for j := range 40 {
			n.fail(strings.Repeat("k", 300)+fmt.Sprint(j), "sha256 %s, the manifest records %s", strings.Repeat("0", 64), strings.Repeat("1", 64))
		}
		r.Nodes = append(r.Nodes, n)
	}
	b := Summary(r)
	if len(b) > TerminationMessageLimit {
		t.Fatalf("summary of %d bytes", len(b))
	}
	got, err := ParseSummary(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != 12 || got.Nodes[11].FailureCount != 40 || got.Nodes[0].Objects != 90 {
		t.Errorf("counts lost: %+v", got.Nodes)
	}
	if len(r.Nodes[0].Failures) != MaxFailures {
		t.Errorf("Summary changed its argument: %d failures", len(r.Nodes[0].Failures))
	}
	small := Result{Nodes: []NodeResult{{Node: "a", Failures: []Failure{{Key: "k", Reason: "r"}}, FailureCount: 1}}}
	if got, _ := ParseSummary(Summary(small)); len(got.Nodes[0].Failures) != 1 {
		t.Errorf("a small result lost a failure: %+v", got)
	}
}

func TestParseSample(t *testing.T) {
	for in, want := range map[string]float64{"": 1, "10%": 0.1, "100%": 1, "2.5%": 0.025} {
		if got, err := ParseSample(in); err != nil || got != want {
			t.Errorf("ParseSample(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"10", "0%", "101%", "-5%", "x%"} {
		if _, err := ParseSample(bad); err == nil {
			t.Errorf("ParseSample(%q) accepted", bad)
		}
	}
	n := 0
	for i := range 10000 {
		if Sampled(fmt.Sprintf("c/dc/h/data/ks/t-0/%d-1/nb-%d-big-Data.db", i, i), 0.1) {
			n++
		}
	}
	if n < 850 || n > 1150 {
		t.Errorf("a 10%% sample of 10000 keys holds %d", n)
	}
}

func TestSchemaTableID(t *testing.T) {
	id, ok := SchemaTableID("CREATE TABLE IF NOT EXISTS ks.t (\n id uuid PRIMARY KEY\n) WITH ID = 5a1c395e-b41f-11e5-9f22-ba0be0483c18\n AND x = 1;")
	if !ok || id != "5a1c395eb41f11e59f22ba0be0483c18" {
		t.Errorf("got %q %v", id, ok)
	}
	if _, ok := SchemaTableID("CREATE TABLE ks.t (id int PRIMARY KEY);"); ok {
		t.Error("an id without WITH ID")
	}
}

func TestMissingComponents(t *testing.T) {
	have := map[string]layout.File{"Data.db": {}, "TOC.txt": {}, "Digest.crc32": {}}
	got := MissingComponents([]byte("Data.db\nDigest.crc32\nFilter.db\nTOC.txt\n"), have)
	if len(got) != 1 || got[0] != "Filter.db" {
		t.Errorf("got %v", got)
	}
	if v := DigestValue([]byte("3a7bd3e2360a3d29eea436fcfb7e44c735d117c4  nb-1-big-Data.db\n")); v != "3a7bd3e2360a3d29eea436fcfb7e44c735d117c4" {
		t.Errorf("DigestValue %q", v)
	}
}
