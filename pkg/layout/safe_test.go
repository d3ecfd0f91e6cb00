package layout

import (
	"fmt"
	"strings"
	"testing"
)

// TestValidateTokens: a token is an integer of its partitioner's range, nothing else.
func TestValidateTokens(t *testing.T) {
	const (
		min64   = "-9223372036854775808"
		max64   = "9223372036854775807"
		over64  = "9223372036854775808"
		pow127  = "170141183460469231731687303715884105728"
		below27 = "170141183460469231731687303715884105727"
	)
	for _, c := range []struct {
		partitioner, token string
		ok                 bool
	}{
		{PartitionerMurmur3, min64, true},
		{PartitionerMurmur3, max64, true},
		{PartitionerMurmur3, over64, false},
		{PartitionerMurmur3, "0 -javaagent:/var/lib/cassandra/data/ks/evil.jar", false},
		{PartitionerMurmur3, "1e5", false},
		{PartitionerMurmur3, "+1", false},
		{PartitionerMurmur3, " 1", false},
		{PartitionerMurmur3, "1\ninitial_token: 2", false},
		{PartitionerRandom, "0", true},
		{PartitionerRandom, pow127, true},
		{PartitionerRandom, "-1", false},
		{PartitionerRandom, pow127 + "0", false},
		{"", min64, true},
		{"", below27, true},
		{"", pow127, false},
		{"", "-9223372036854775809", false},
		{"", "", false},
		{"org.example.OtherPartitioner", "5", true},
		{"org.example.OtherPartitioner", "abc", false},
	} {
		err := ValidateTokens(c.partitioner, []string{"1", c.token})
		if (err == nil) != c.ok {
			t.Errorf("%s %q: %v, want ok=%v", c.partitioner, c.token, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", c.token)) {
			t.Errorf("%q: the error does not name the token: %v", c.token, err)
		}
	}
	if err := ValidateTokens("", make([]string, maxTokens+1)); err == nil {
		t.Error("more tokens than num_tokens allows were accepted")
	}
}

// TestManifestRefusesCode: a manifest whose tokens, partitioner or names carry syntax is
// refused on decoding, naming the bad value.
func TestManifestRefusesCode(t *testing.T) {
	base := `{"snapshot":{"name":"t","keyspaces":{%s}},"tokens":[%s],"schemaVersion":"v"%s}`
	for _, c := range []struct{ name, keyspaces, tokens, extra, bad string }{
		{"javaagent token", ``, `"0 -javaagent:/var/lib/cassandra/data/x.jar"`, ``, "-javaagent"},
		{"yaml token", ``, `"1\nauthenticator: AllowAllAuthenticator"`, ``, "authenticator"},
		{"murmur3 range", ``, `"170141183460469231731687303715884105727"`, `,"partitioner":"` + PartitionerMurmur3 + `"`, "170141183460469231731687303715884105727"},
		{"partitioner", ``, `"1"`, `,"partitioner":"x -javaagent:y"`, "-javaagent"},
		{"keyspace", `"ks;drop":{"tables":{}}`, `"1"`, ``, "ks;drop"},
		{"table", `"ks":{"tables":{"t t":{"sstables":{},"id":"0123456789abcdef0123456789abcdef"}}}`, `"1"`, ``, "t t"},
	} {
		_, err := DecodeManifest([]byte(sprintf(base, c.keyspaces, c.tokens, c.extra)))
		if err == nil || !strings.Contains(err.Error(), c.bad) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	ok := sprintf(base, `"ks":{"tables":{"t":{"sstables":{},"id":"0123456789abcdef0123456789abcdef"}}}`, `"-5","7"`, `,"partitioner":"`+PartitionerMurmur3+`"`)
	if _, err := DecodeManifest([]byte(ok)); err != nil {
		t.Errorf("a good manifest: %v", err)
	}
}

func sprintf(format string, args ...string) string {
	for _, a := range args {
		format = strings.Replace(format, "%s", a, 1)
	}
	return format
}

// TestHostValidate: topology hosts name a UUID host id and plain names.
func TestHostValidate(t *testing.T) {
	good := Host{Hostname: "cassandra-dc1-rack1-0", Cluster: "Test Cluster", DC: "dc1", Rack: "rack1", NodeID: "6b3f1c0e-0000-4000-8000-000000000001"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change func(*Host)
		bad    string
	}{
		{func(h *Host) { h.NodeID = "../../other" }, "../../other"},
		{func(h *Host) { h.DC = "dc1 -Dx=y\n" }, "dc1 -Dx=y"},
		{func(h *Host) { h.Cluster = "c$(id)" }, "c$(id)"},
		{func(h *Host) { h.Rack = "r/1" }, "r/1"},
		{func(h *Host) { h.Hostname = "" }, `""`},
	} {
		h := good
		c.change(&h)
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), c.bad) {
			t.Errorf("host %+v: %v", h, err)
		}
	}
}
