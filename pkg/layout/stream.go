package layout

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// A manifest can hold millions of entries: ScanManifest and ManifestWriter read and write
// one entry at a time, in the same JSON format Manifest and DecodeManifest use, so that
// an agent's memory does not grow with the node's file count and every manifest written
// before (or by Manifest) reads back.

// ManifestHeader is a manifest without its tables.
type ManifestHeader struct {
	// Name is the snapshot tag.
	Name string
	// Tokens are the node's tokens at the time of the backup.
	Tokens []string
	// SchemaVersion is the node's schema version at the time of the backup.
	SchemaVersion string
	// Partitioner is the node's partitioner class, which gives Tokens their syntax.
	Partitioner string
	// BackupUID is the uid of the CassandraBackup that wrote the manifest.
	BackupUID string
}

// ScanManifest reads a manifest from r and calls fn with each entry, checked as Validate
// checks it, holding no more than one entry at a time. A table's id may follow its
// entries in the document, so an entry of the wrong table is found only when its table
// ends: what fn did must be undone when ScanManifest returns an error. A keyspace or table
// named twice is refused (DecodeManifest would keep only the last).
func ScanManifest(r io.Reader, fn func(File) error) (ManifestHeader, error) {
	s := &scanner{dec: json.NewDecoder(bufio.NewReaderSize(r, 64<<10)), fn: fn}
	var h ManifestHeader
	err := s.object(func(key string) error {
		switch {
		case strings.EqualFold(key, "snapshot"):
			return s.snapshot(&h)
		case strings.EqualFold(key, "tokens"):
			return s.dec.Decode(&h.Tokens)
		case strings.EqualFold(key, "schemaVersion"):
			return s.dec.Decode(&h.SchemaVersion)
		case strings.EqualFold(key, "partitioner"):
			return s.dec.Decode(&h.Partitioner)
		case strings.EqualFold(key, "backupUid"):
			return s.dec.Decode(&h.BackupUID)
		}
		return s.skip()
	})
	if err == nil {
		if _, terr := s.dec.Token(); terr != io.EOF {
			err = fmt.Errorf("data after the manifest")
		}
	}
	if err != nil {
		return h, fmt.Errorf("decode manifest: %w", err)
	}
	if err := segment(h.Name); err != nil {
		return h, fmt.Errorf("manifest snapshot name: %w", err)
	}
	// Tokens and names from the bucket are data (Manifest.Validate's rules).
	if err := ValidatePartitioner(h.Partitioner); err != nil {
		return h, fmt.Errorf("manifest: %w", err)
	}
	if err := ValidateTokens(h.Partitioner, h.Tokens); err != nil {
		return h, fmt.Errorf("manifest: %w", err)
	}
	return h, nil
}

type scanner struct {
	dec *json.Decoder
	fn  func(File) error
}

// object walks a JSON object (or null), calling field for each key with the decoder at
// the key's value, which field must consume.
func (s *scanner) object(field func(key string) error) error {
	t, err := s.dec.Token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	if t != json.Delim('{') {
		return fmt.Errorf("want an object, got %v", t)
	}
	for s.dec.More() {
		k, err := s.dec.Token()
		if err != nil {
			return err
		}
		if err := field(k.(string)); err != nil {
			return err
		}
	}
	_, err = s.dec.Token()
	return err
}

// skip consumes one value of any kind.
func (s *scanner) skip() error {
	depth := 0
	for {
		t, err := s.dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

func (s *scanner) snapshot(h *ManifestHeader) error {
	return s.object(func(key string) error {
		switch {
		case strings.EqualFold(key, "name"):
			return s.dec.Decode(&h.Name)
		case strings.EqualFold(key, "keyspaces"):
			seen := map[string]bool{}
			return s.object(func(ks string) error {
				if seen[ks] {
					return fmt.Errorf("keyspace %q twice", ks)
				}
				seen[ks] = true
				return s.keyspace(ks)
			})
		}
		return s.skip()
	})
}

func (s *scanner) keyspace(ks string) error {
	return s.object(func(key string) error {
		if !strings.EqualFold(key, "tables") {
			return s.skip()
		}
		seen := map[string]bool{}
		return s.object(func(table string) error {
			if seen[table] {
				return fmt.Errorf("table %s.%s twice", ks, table)
			}
			seen[table] = true
			return s.table(ks, table)
		})
	})
}

// table walks one table; its entries must all carry its id (see ScanManifest).
func (s *scanner) table(ks, table string) error {
	if !cassandra.ValidName(ks) {
		return fmt.Errorf("keyspace %q is not a name", ks)
	}
	if !cassandra.ValidName(table) {
		return fmt.Errorf("table %q of keyspace %s is not a name", table, ks)
	}
	var id, entriesID string
	err := s.object(func(key string) error {
		switch {
		case strings.EqualFold(key, "id"):
			return s.dec.Decode(&id)
		case strings.EqualFold(key, "sstables"):
			return s.object(func(ss string) error {
				return s.entries(File{Keyspace: ks, Table: table, SSTable: ss}, &id, &entriesID)
			})
		}
		return s.skip()
	})
	if err == nil && entriesID != "" && entriesID != id {
		err = fmt.Errorf("manifest entries of %s.%s: key is not in table directory of id %q", ks, table, id)
	}
	if err == nil && id != "" {
		if _, _, perr := cassandra.ParseTableDir(cassandra.TableDirName(table, id)); perr != nil {
			err = fmt.Errorf("table %s.%s: %w", ks, table, perr)
		}
	}
	return err
}

// entries walks one SSTable's entry list. Before the table's id is known, every entry
// must be in the directory of the first one (entriesID).
func (s *scanner) entries(f File, id, entriesID *string) error {
	t, err := s.dec.Token()
	if err != nil || t == nil {
		return err
	}
	if t != json.Delim('[') {
		return fmt.Errorf("want an array, got %v", t)
	}
	for s.dec.More() {
		var e Entry
		if err := s.dec.Decode(&e); err != nil {
			return err
		}
		f.Entry, f.TableID = e, *id
		if f.TableID == "" {
			k, err := ParseObjectKey(e.ObjectKey)
			if err != nil {
				return fmt.Errorf("manifest entry %q of %s.%s: %w", e.ObjectKey, f.Keyspace, f.Table, err)
			}
			if *entriesID == "" {
				*entriesID = k.TableID
			}
			f.TableID = *entriesID
		}
		if err := f.validate(); err != nil {
			return fmt.Errorf("manifest entry %q of %s.%s: %w", e.ObjectKey, f.Keyspace, f.Table, err)
		}
		if err := s.fn(f); err != nil {
			return err
		}
	}
	_, err = s.dec.Token()
	return err
}

// ManifestWriter writes a manifest one entry at a time. Tables must come in order of
// keyspace then table name, each once, and a table's entries in order of SSTable name:
// the writer refuses anything else, so that no JSON key is written twice.
type ManifestWriter struct {
	w                  *bufio.Writer
	ks, table, sstable string
	inTable, inSSTable bool
	first              bool // no table written yet
	err                error
}

// NewManifestWriter starts a manifest of snapshot name on w.
func NewManifestWriter(w io.Writer, name string) *ManifestWriter {
	mw := &ManifestWriter{w: bufio.NewWriterSize(w, 64<<10), first: true}
	mw.raw(`{"snapshot":{"name":`)
	mw.json(name)
	mw.raw(`,"keyspaces":{`)
	return mw
}

func (mw *ManifestWriter) raw(s string) {
	if mw.err == nil {
		_, mw.err = mw.w.WriteString(s)
	}
}

func (mw *ManifestWriter) json(v any) {
	if mw.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		mw.err = err
		return
	}
	_, mw.err = mw.w.Write(b)
}

// Table starts the table keyspace.table, ending the one before.
func (mw *ManifestWriter) Table(keyspace, table, id, schema string) error {
	if !mw.first && (keyspace < mw.ks || keyspace == mw.ks && table <= mw.table) {
		return fmt.Errorf("manifest: table %s.%s out of order after %s.%s", keyspace, table, mw.ks, mw.table)
	}
	mw.endTable()
	switch {
	case mw.first:
	case keyspace != mw.ks:
		mw.raw(`}},`)
	default:
		mw.raw(`,`)
	}
	if mw.first || keyspace != mw.ks {
		mw.json(keyspace)
		mw.raw(`:{"tables":{`)
	}
	mw.json(table)
	mw.raw(`:{"id":`)
	mw.json(id)
	mw.raw(`,"schemaContent":`)
	mw.json(schema)
	mw.raw(`,"sstables":{`)
	mw.first, mw.ks, mw.table, mw.sstable, mw.inTable = false, keyspace, table, "", true
	return mw.err
}

// Add adds an entry of SSTable sstable to the current table.
func (mw *ManifestWriter) Add(sstable string, e Entry) error {
	if !mw.inTable {
		return errors.New("manifest: entry outside a table")
	}
	if mw.inSSTable && sstable < mw.sstable {
		return fmt.Errorf("manifest: sstable %s out of order after %s", sstable, mw.sstable)
	}
	if !mw.inSSTable || sstable != mw.sstable {
		if mw.inSSTable {
			mw.raw(`],`)
		}
		mw.json(sstable)
		mw.raw(`:[`)
		mw.sstable, mw.inSSTable = sstable, true
	} else {
		mw.raw(`,`)
	}
	mw.json(e)
	return mw.err
}

func (mw *ManifestWriter) endTable() {
	if mw.inSSTable {
		mw.raw(`]`)
	}
	if mw.inTable {
		mw.raw(`}}`)
	}
	mw.inTable, mw.inSSTable = false, false
}

// Close ends the manifest with the header's tokens, schema version, partitioner and
// backup uid (the last two omitted when empty, as Manifest omits them) and flushes it.
func (mw *ManifestWriter) Close(h ManifestHeader) error {
	mw.endTable()
	if !mw.first {
		mw.raw(`}}`)
	}
	mw.raw(`}},"tokens":`)
	mw.json(h.Tokens)
	mw.raw(`,"schemaVersion":`)
	mw.json(h.SchemaVersion)
	if h.Partitioner != "" {
		mw.raw(`,"partitioner":`)
		mw.json(h.Partitioner)
	}
	if h.BackupUID != "" {
		mw.raw(`,"backupUid":`)
		mw.json(h.BackupUID)
	}
	mw.raw(`}`)
	if mw.err == nil {
		mw.err = mw.w.Flush()
	}
	return mw.err
}
