package podrunner

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x y", "B": "$(A)"}
	for in, want := range map[string]string{
		"$(A)":           "x y",
		"-D$(A) $(C)":    "-Dx y $(C)",
		"$$(A)":          "$(A)",
		"$(B)":           "$(A)", // values are not expanded twice
		"plain $ sign":   "plain $ sign",
		"unterminated$(": "unterminated$(",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMapper(t *testing.T) {
	m := mapper{{"/var/lib/cassandra/data", "/tmp/d"}, {"/var/lib/cassandra", "/tmp/c"}}
	for in, want := range map[string]string{
		"/var/lib/cassandra/data/restore_done":    "/tmp/d/restore_done",
		"--tokens-file=/var/lib/cassandra/t.yaml": "--tokens-file=/tmp/c/t.yaml",
		"--commitlog-dir=/var/lib/cassandra":      "--commitlog-dir=/tmp/c",
		"/var/lib/cassandra-other":                "/var/lib/cassandra-other",
		"--x=/etc/cassandra":                      "--x=/etc/cassandra",
	} {
		if got := m.apply(in); got != want {
			t.Errorf("apply(%q) = %q, want %q", in, got, want)
		}
	}
}
