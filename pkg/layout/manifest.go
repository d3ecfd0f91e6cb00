package layout

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// Entry types of a manifest.
const (
	// TypeFile is an SSTable component file.
	TypeFile = "FILE"
	// TypeSchema is a table's schema.cql.
	TypeSchema = "CQL_SCHEMA"
)

// Manifest lists everything one node's backup consists of (Esop's manifest JSON).
type Manifest struct {
	// Snapshot holds the backed-up keyspaces.
	Snapshot Snapshot `json:"snapshot"`
	// Tokens are the node's tokens at the time of the backup.
	Tokens []string `json:"tokens"`
	// SchemaVersion is the node's schema version at the time of the backup.
	SchemaVersion string `json:"schemaVersion"`
	// Partitioner is the node's partitioner class, which gives Tokens their syntax; empty
	// in manifests written before it was recorded (and by Esop).
	Partitioner string `json:"partitioner,omitempty"`
	// BackupUID is the uid of the CassandraBackup that wrote the manifest; empty when the
	// request named none.
	BackupUID string `json:"backupUid,omitempty"`
}

// Snapshot is the snapshot part of a manifest.
type Snapshot struct {
	// Name is the snapshot tag.
	Name string `json:"name"`
	// Keyspaces are keyed by keyspace name.
	Keyspaces map[string]Keyspace `json:"keyspaces"`
}

// Keyspace is one keyspace of a snapshot.
type Keyspace struct {
	// Tables are keyed by table name.
	Tables map[string]Table `json:"tables"`
}

// Table is one table of a snapshot.
type Table struct {
	// SSTables are keyed by SSTable name (nb-2-big; ".<index>/nb-2-big" for secondary index SSTables).
	SSTables map[string][]Entry `json:"sstables"`
	// ID is the table id, 32 hex digits.
	ID string `json:"id"`
	// SchemaContent is the table's CREATE statement.
	SchemaContent string `json:"schemaContent"`
}

// Entry is one object of a backup.
type Entry struct {
	// ObjectKey is the key relative to the node: data/<ks>/<table>-<id>/<gen>-<digest>/<file>.
	ObjectKey string `json:"objectKey"`
	// Type is FILE or CQL_SCHEMA.
	Type string `json:"type"`
	// Size is the object size in bytes.
	Size int64 `json:"size"`
	// Hash is the SHA-256 of the object, hex-encoded.
	Hash string `json:"hash"`
	// Refreshed is when a backup last wrote or refreshed the object, in milliseconds since
	// the epoch (the agent's clock, taken before the write); 0 when unknown (manifests of
	// older agents, Esop's). It decides which reused objects are due for a refresh under a
	// lifecycle expiry; nothing else reads it (the garbage collector trusts no object time).
	Refreshed int64 `json:"refreshed,omitempty"`
	// Stat identifies the node's file Hash was computed from ("dev:inode:size:mtime-ns"),
	// so that the node's next backup can trust Hash for the same file without reading it;
	// empty when not known (other agents' manifests, a file modified just before the
	// backup). Only the agent of the same node reads it.
	Stat string `json:"stat,omitempty"`
}

// File is a manifest entry with the table it belongs to.
type File struct {
	// Keyspace is the entry's keyspace.
	Keyspace string
	// Table is the entry's table name.
	Table string
	// TableID is the entry's table id.
	TableID string
	// SSTable is the manifest's name of the SSTable.
	SSTable string
	// Entry is the manifest entry.
	Entry
}

// Files returns every entry of the manifest, sorted by object key.
func (m *Manifest) Files() []File {
	var out []File
	for ksName, ks := range m.Snapshot.Keyspaces {
		for tName, t := range ks.Tables {
			for ssName, entries := range t.SSTables {
				for _, e := range entries {
					out = append(out, File{Keyspace: ksName, Table: tName, TableID: t.ID, SSTable: ssName, Entry: e})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ObjectKey < out[j].ObjectKey })
	return out
}

// Size returns the total size of the manifest's entries.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files() {
		n += f.Size
	}
	return n
}

// Add records an entry of keyspace.table under SSTable name ssName.
func (m *Manifest) Add(keyspace, table, tableID, ssName string, e Entry) {
	m.updateTable(keyspace, table, func(t *Table) {
		t.ID = tableID
		t.SSTables[ssName] = append(t.SSTables[ssName], e)
	})
}

// SetSchema records the CREATE statement of keyspace.table.
func (m *Manifest) SetSchema(keyspace, table, tableID, schema string) {
	m.updateTable(keyspace, table, func(t *Table) { t.ID, t.SchemaContent = tableID, schema })
}

// updateTable applies change to keyspace.table, creating the keyspace, the table and its
// SSTable map as needed.
func (m *Manifest) updateTable(keyspace, table string, change func(*Table)) {
	if m.Snapshot.Keyspaces == nil {
		m.Snapshot.Keyspaces = map[string]Keyspace{}
	}
	ks := m.Snapshot.Keyspaces[keyspace]
	if ks.Tables == nil {
		ks.Tables = map[string]Table{}
	}
	t := ks.Tables[table]
	if t.SSTables == nil {
		t.SSTables = map[string][]Entry{}
	}
	change(&t)
	ks.Tables[table] = t
	m.Snapshot.Keyspaces[keyspace] = ks
}

// Filter returns a copy of the manifest with only the tables keep accepts.
func (m *Manifest) Filter(keep func(keyspace, table string) bool) *Manifest {
	out := &Manifest{Snapshot: Snapshot{Name: m.Snapshot.Name, Keyspaces: map[string]Keyspace{}}, Tokens: m.Tokens, SchemaVersion: m.SchemaVersion, Partitioner: m.Partitioner, BackupUID: m.BackupUID}
	for ksName, ks := range m.Snapshot.Keyspaces {
		tables := map[string]Table{}
		for tName, t := range ks.Tables {
			if keep(ksName, tName) {
				tables[tName] = t
			}
		}
		if len(tables) > 0 {
			out.Snapshot.Keyspaces[ksName] = Keyspace{Tables: tables}
		}
	}
	return out
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Validate checks that the manifest is well formed and that every object key is a safe key
// of its own table, so that no entry can be written outside the table's directory.
func (m *Manifest) Validate() error {
	if err := segment(m.Snapshot.Name); err != nil {
		return fmt.Errorf("manifest snapshot name: %w", err)
	}
	if err := ValidatePartitioner(m.Partitioner); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := ValidateTokens(m.Partitioner, m.Tokens); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := m.validateNames(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	for _, f := range m.Files() {
		if err := f.validate(); err != nil {
			return fmt.Errorf("manifest entry %q of %s.%s: %w", f.ObjectKey, f.Keyspace, f.Table, err)
		}
	}
	return nil
}

func (f File) validate() error {
	k, err := ParseObjectKey(f.ObjectKey)
	if err != nil {
		return err
	}
	if k.Keyspace != f.Keyspace || k.Table != f.Table || k.TableID != f.TableID {
		return fmt.Errorf("key is not in table directory %s/%s", f.Keyspace, cassandra.TableDirName(f.Table, f.TableID))
	}
	if f.Type != TypeFile {
		return fmt.Errorf("type %q, want %s", f.Type, TypeFile)
	}
	if f.Size < 0 {
		return fmt.Errorf("negative size")
	}
	if !sha256RE.MatchString(f.Hash) {
		return fmt.Errorf("hash is not a hex SHA-256")
	}
	return nil
}

// ValidateObjectKey checks that key is a clean relative slash-separated key: no absolute
// path, no "." or ".." segment, no empty segment, no backslash and no control character.
func ValidateObjectKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty object key")
	}
	if strings.HasPrefix(key, "/") || filepath.IsAbs(key) || filepath.VolumeName(key) != "" {
		return fmt.Errorf("object key %q is absolute", key)
	}
	for _, s := range strings.Split(key, "/") {
		if err := segment(s); err != nil {
			return fmt.Errorf("object key %q: segment %w", key, err)
		}
		if strings.Contains(s, ":") {
			return fmt.Errorf("object key %q: segment %q contains a colon", key, s)
		}
	}
	if path.Clean(key) != key {
		return fmt.Errorf("object key %q is not clean", key)
	}
	return nil
}

// ObjectKey is a parsed SSTable object key.
type ObjectKey struct {
	// Keyspace is the keyspace.
	Keyspace string
	// Table is the table name.
	Table string
	// TableID is the table id.
	TableID string
	// Index is the secondary index directory (".name"), or empty.
	Index string
	// Generation is the SSTable generation.
	Generation string
	// Digest is the SSTable digest.
	Digest string
	// File is the SSTable file name.
	File string
}

// ParseObjectKey parses data/<ks>/<table>-<id>[/.<index>]/<generation>-<digest>/<file>,
// refusing any key that is not of exactly that form.
func ParseObjectKey(key string) (ObjectKey, error) {
	if err := ValidateObjectKey(key); err != nil {
		return ObjectKey{}, err
	}
	s := strings.Split(key, "/")
	if len(s) != 5 && len(s) != 6 || s[0] != DataDir {
		return ObjectKey{}, fmt.Errorf("object key %q: want data/<ks>/<table>-<id>[/.<index>]/<generation>-<digest>/<file>", key)
	}
	var k ObjectKey
	k.Keyspace = s[1]
	if !cassandra.ValidName(k.Keyspace) {
		return ObjectKey{}, fmt.Errorf("object key %q: bad keyspace %q", key, k.Keyspace)
	}
	var err error
	if k.Table, k.TableID, err = cassandra.ParseTableDir(s[2]); err != nil {
		return ObjectKey{}, fmt.Errorf("object key %q: %w", key, err)
	}
	rest := s[3:]
	if len(s) == 6 {
		k.Index = s[3]
		if !strings.HasPrefix(k.Index, ".") || !cassandra.ValidName(k.Index[1:]) {
			return ObjectKey{}, fmt.Errorf("object key %q: bad index directory %q", key, k.Index)
		}
		rest = s[4:]
	}
	gen, digest, ok := strings.Cut(rest[0], "-")
	if !ok || gen == "" || digest == "" {
		return ObjectKey{}, fmt.Errorf("object key %q: want <generation>-<digest>, got %q", key, rest[0])
	}
	k.Generation, k.Digest, k.File = gen, digest, rest[1]
	d, err := cassandra.ParseDescriptor(k.File)
	if err != nil {
		return ObjectKey{}, fmt.Errorf("object key %q: %w", key, err)
	}
	if d.Generation != gen {
		return ObjectKey{}, fmt.Errorf("object key %q: file generation %s differs from %s", key, d.Generation, gen)
	}
	return k, nil
}

// LocalPath returns where the SSTable file of an object key lives under a data directory:
// <dataDir>/<ks>/<table>-<id>[/.<index>]/<file>. Keys that do not parse, or that would
// resolve outside dataDir, are refused.
func LocalPath(dataDir, objectKey string) (string, error) {
	k, err := ParseObjectKey(objectKey)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dataDir, k.Keyspace, cassandra.TableDirName(k.Table, k.TableID), k.Index, k.File)
	rel, err := filepath.Rel(dataDir, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("object key %q resolves outside the data directory", objectKey)
	}
	return p, nil
}

// DecodeManifest decodes and validates a manifest.
func DecodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}
