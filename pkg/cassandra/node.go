package cassandra

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrRefused matches (errors.Is) the error of a Node call that the node answered with a
// failure (an exception), as opposed to one whose outcome is unknown (a transport error).
var ErrRefused = errors.New("the node refused the call")

// ErrNoImport matches the error of ImportSSTables on a Node whose control has no import
// (the Management API); LoadSSTables refreshes such a node instead.
var ErrNoImport = errors.New("this node control cannot import SSTables")

// Importer is implemented by a Node that can tell whether ImportSSTables works; a Node
// that does not implement it can import.
type Importer interface {
	// CanImport reports whether ImportSSTables is available.
	CanImport() bool
}

// CanImport reports whether node can import SSTables (see Importer).
func CanImport(node Node) bool {
	i, ok := node.(Importer)
	return !ok || i.CanImport()
}

// Node controls one Cassandra node (the agent's implementations are pkg/cassandra/jolokia
// and pkg/cassandra/mgmtapi).
type Node interface {
	// Flush writes the memtables of a keyspace (all of its tables when none are named) to SSTables.
	Flush(ctx context.Context, keyspace string, tables ...string) error
	// TakeSnapshot flushes and snapshots the given entities (all keyspaces when none) under tag.
	TakeSnapshot(ctx context.Context, tag string, entities ...Entity) error
	// ClearSnapshot removes the snapshot tag from the keyspaces (all keyspaces when none).
	ClearSnapshot(ctx context.Context, tag string, keyspaces ...string) error
	// Tokens returns the node's tokens.
	Tokens(ctx context.Context) ([]string, error)
	// HostID returns the node's host id.
	HostID(ctx context.Context) (string, error)
	// SchemaVersion returns the node's schema version.
	SchemaVersion(ctx context.Context) (string, error)
	// ClusterName returns the name of the node's cluster.
	ClusterName(ctx context.Context) (string, error)
	// Location returns the node's datacenter and rack.
	Location(ctx context.Context) (dc, rack string, err error)
	// OperationMode returns the node's operation mode (NORMAL, JOINING, …).
	OperationMode(ctx context.Context) (string, error)
	// Keyspaces returns the names of all keyspaces of the node.
	Keyspaces(ctx context.Context) ([]string, error)
	// DataDirs returns the node's data file locations.
	DataDirs(ctx context.Context) ([]string, error)
	// ReleaseVersion returns the node's Cassandra release, e.g. 4.1.5 or 3.11.17.
	ReleaseVersion(ctx context.Context) (string, error)
	// Partitioner returns the node's partitioner class, e.g.
	// org.apache.cassandra.dht.Murmur3Partitioner.
	Partitioner(ctx context.Context) (string, error)
	// ImportSSTables loads the SSTables in dirs into a live table and returns the directories
	// that failed (Cassandra 4.0+).
	ImportSSTables(ctx context.Context, keyspace, table string, dirs []string) (failed []string, err error)
	// LoadNewSSTables loads the SSTables that appeared in a live table's directories (nodetool refresh).
	LoadNewSSTables(ctx context.Context, keyspace, table string) error
}

// Entity names a keyspace, or a table when Table is set.
type Entity struct {
	// Keyspace is the keyspace name.
	Keyspace string
	// Table is the table name; empty means the whole keyspace.
	Table string
}

// String returns the entity as Cassandra names it: "ks" or "ks.table".
func (e Entity) String() string {
	if e.Table == "" {
		return e.Keyspace
	}
	return e.Keyspace + "." + e.Table
}

// ParseEntities parses Icarus' entities form: keyspaces and keyspace.table names separated
// by commas or spaces. An empty string means every keyspace.
func ParseEntities(s string) (Entities, error) {
	var out Entities
	seen := map[Entity]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		parts := strings.Split(f, ".")
		var e Entity
		switch len(parts) {
		case 1:
			e = Entity{Keyspace: parts[0]}
		case 2:
			e = Entity{Keyspace: parts[0], Table: parts[1]}
		default:
			return nil, fmt.Errorf("entity %q: want keyspace or keyspace.table", f)
		}
		if !validName(e.Keyspace) || len(parts) == 2 && !validName(e.Table) {
			return nil, fmt.Errorf("entity %q: names are letters, digits and underscores", f)
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// validName reports whether s is a legal unquoted Cassandra keyspace or table name.
func validName(s string) bool {
	if s == "" || len(s) > 222 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Entities is a list of entities; an empty list selects everything.
type Entities []Entity

// String returns the entities in Icarus' comma-separated form.
func (es Entities) String() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
	}
	return strings.Join(s, ",")
}

// Match reports whether the table keyspace.table is selected.
func (es Entities) Match(keyspace, table string) bool {
	if len(es) == 0 {
		return true
	}
	for _, e := range es {
		if e.Keyspace == keyspace && (e.Table == "" || e.Table == table) {
			return true
		}
	}
	return false
}

// MatchKeyspace reports whether any table of keyspace is selected.
func (es Entities) MatchKeyspace(keyspace string) bool {
	if len(es) == 0 {
		return true
	}
	for _, e := range es {
		if e.Keyspace == keyspace {
			return true
		}
	}
	return false
}

// Keyspaces returns the distinct keyspaces named, sorted.
func (es Entities) Keyspaces() []string {
	set := map[string]bool{}
	for _, e := range es {
		set[e.Keyspace] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SystemKeyspaces are the keyspaces Cassandra manages itself.
var SystemKeyspaces = []string{
	"system", "system_schema", "system_auth", "system_distributed", "system_traces",
	"system_views", "system_virtual_schema", "system_cluster_metadata",
}

// IsSystemKeyspace reports whether ks is one of Cassandra's own keyspaces.
func IsSystemKeyspace(ks string) bool {
	for _, s := range SystemKeyspaces {
		if s == ks {
			return true
		}
	}
	return false
}

// ValidName reports whether s is a legal unquoted keyspace, table or index name.
func ValidName(s string) bool { return validName(s) }
