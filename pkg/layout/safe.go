package layout

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// Partitioner classes whose token syntax is known. Tokens and names read from a bucket are
// data written by whoever can write the bucket: they are checked here before any of them
// reaches a JVM option, a YAML file, a path or a plan.
const (
	// PartitionerMurmur3 has signed 64-bit integer tokens.
	PartitionerMurmur3 = "org.apache.cassandra.dht.Murmur3Partitioner"
	// PartitionerRandom has integer tokens in [0, 2^127].
	PartitionerRandom = "org.apache.cassandra.dht.RandomPartitioner"
)

// maxTokens bounds the tokens of one node (Cassandra allows num_tokens up to 1536).
const maxTokens = 1536

var (
	decimalRE = regexp.MustCompile(`^-?[0-9]{1,40}$`)
	minInt64  = big.NewInt(0).Lsh(big.NewInt(-1), 63) // -2^63
	pow127    = big.NewInt(0).Lsh(big.NewInt(1), 127) // 2^127
	// nameRE is what a cluster, datacenter or rack name, or a host name, may be: letters,
	// digits, and . _ - and space inside; no shell, YAML or path syntax.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,253}[A-Za-z0-9._-])?$`)
)

// ValidateTokens checks tokens against the syntax of partitioner: Murmur3, signed 64-bit
// integers; Random, integers in [0, 2^127]; any other or an unrecorded partitioner,
// decimal integers in [-2^63, 2^127). The error names the bad token.
func ValidateTokens(partitioner string, tokens []string) error {
	if len(tokens) > maxTokens {
		return fmt.Errorf("%d tokens, more than %d", len(tokens), maxTokens)
	}
	for _, t := range tokens {
		if err := validToken(partitioner, t); err != nil {
			return err
		}
	}
	return nil
}

func validToken(partitioner, t string) error {
	if !decimalRE.MatchString(t) {
		return fmt.Errorf("token %q is not a decimal integer", t)
	}
	switch partitioner {
	case PartitionerMurmur3:
		if _, err := strconv.ParseInt(t, 10, 64); err != nil {
			return fmt.Errorf("token %q is not a signed 64-bit integer (%s)", t, partitioner)
		}
		return nil
	}
	v, _ := new(big.Int).SetString(t, 10)
	if partitioner == PartitionerRandom {
		if v.Sign() < 0 || v.Cmp(pow127) > 0 {
			return fmt.Errorf("token %q is not in [0, 2^127] (%s)", t, partitioner)
		}
		return nil
	}
	if v.Cmp(minInt64) < 0 || v.Cmp(pow127) >= 0 {
		return fmt.Errorf("token %q is not in [-2^63, 2^127)", t)
	}
	return nil
}

// ValidatePartitioner checks that a recorded partitioner is a Java class name.
func ValidatePartitioner(p string) error {
	if p != "" && !classRE.MatchString(p) {
		return fmt.Errorf("partitioner %q is not a class name", p)
	}
	return nil
}

var classRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*){0,20}$`)

// ValidateName checks a cluster, datacenter, rack or host name read from a bucket; what
// names it in the error.
func ValidateName(what, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%s %q is not a name (letters, digits, and . _ - or space inside)", what, s)
	}
	return nil
}

// ValidateHostID checks that id is a Cassandra host id, a UUID.
func ValidateHostID(id string) error {
	if !uuidRE.MatchString(id) {
		return fmt.Errorf("host id %q is not a UUID", id)
	}
	return nil
}

// validateNames checks the keyspace and table names and table ids of a manifest, also of
// tables without files.
func (m *Manifest) validateNames() error {
	for ks, k := range m.Snapshot.Keyspaces {
		if !cassandra.ValidName(ks) {
			return fmt.Errorf("keyspace %q is not a name", ks)
		}
		for t, tb := range k.Tables {
			if !cassandra.ValidName(t) {
				return fmt.Errorf("table %q of keyspace %s is not a name", t, ks)
			}
			if _, _, err := cassandra.ParseTableDir(cassandra.TableDirName(t, tb.ID)); err != nil {
				return fmt.Errorf("table %s.%s: %w", ks, t, err)
			}
		}
	}
	return nil
}

// Validate checks every name of a topology host (what is recorded) and that its host id
// is a UUID; the error names the bad value.
func (h Host) Validate() error {
	if err := ValidateHostID(h.NodeID); err != nil {
		return fmt.Errorf("topology host %q: %w", h.Hostname, err)
	}
	if err := ValidateName("host name", h.Hostname); err != nil {
		return fmt.Errorf("topology host %s: %w", h.NodeID, err)
	}
	for _, f := range []struct{ what, v string }{{"cluster", h.Cluster}, {"datacenter", h.DC}, {"rack", h.Rack}} {
		if f.v == "" {
			continue
		}
		if err := ValidateName(f.what, f.v); err != nil {
			return fmt.Errorf("topology host %s: %w", h.Hostname, err)
		}
	}
	return nil
}

// RefusedError is a topology or manifest refused for what it holds: a bad token or name,
// an unsafe key. Retrying does not help; the error names the object and the bad value.
type RefusedError struct {
	// Key is the refused object's key.
	Key string
	// Err says what is wrong with it.
	Err error
}

func (e *RefusedError) Error() string { return e.Key + " refused: " + e.Err.Error() }

// Unwrap returns what is wrong.
func (e *RefusedError) Unwrap() error { return e.Err }
