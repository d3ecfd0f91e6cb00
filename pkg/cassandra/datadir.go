package cassandra

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// SnapshotsDir is the name of the directory of snapshots inside a table directory.
const SnapshotsDir = "snapshots"

var tableIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ParseTableDir splits a table directory name <table>-<32 hex id> into its table name and id.
func ParseTableDir(name string) (table, id string, err error) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || !tableIDRE.MatchString(name[i+1:]) || !validName(name[:i]) {
		return "", "", fmt.Errorf("table directory %q: want <table>-<32 hex id>", name)
	}
	return name[:i], name[i+1:], nil
}

// TableDirName returns the directory name of a table: <table>-<id>.
func TableDirName(table, id string) string {
	return table + "-" + id
}

// Table is a table found in one or more data directories.
type Table struct {
	// Keyspace is the table's keyspace.
	Keyspace string
	// Name is the table's name.
	Name string
	// ID is the table id, 32 hex digits.
	ID string
	// Dirs are the table's directories, one per data directory that holds it.
	Dirs []string
}

// DirName returns the table's directory name, <table>-<id>.
func (t Table) DirName() string { return TableDirName(t.Name, t.ID) }

// Tables lists the tables under the data directories, sorted by keyspace and name. When a
// table was dropped and recreated, several ids exist; all are listed.
func Tables(dataDirs []string) ([]Table, error) {
	byKey := map[string]*Table{}
	for _, dd := range dataDirs {
		kss, err := os.ReadDir(dd)
		if err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		for _, ks := range kss {
			if !ks.IsDir() || !validName(ks.Name()) {
				continue
			}
			tds, err := os.ReadDir(filepath.Join(dd, ks.Name()))
			if err != nil {
				return nil, fmt.Errorf("keyspace directory: %w", err)
			}
			for _, td := range tds {
				if !td.IsDir() {
					continue
				}
				name, id, err := ParseTableDir(td.Name())
				if err != nil {
					continue
				}
				key := ks.Name() + "/" + td.Name()
				t := byKey[key]
				if t == nil {
					t = &Table{Keyspace: ks.Name(), Name: name, ID: id}
					byKey[key] = t
				}
				t.Dirs = append(t.Dirs, filepath.Join(dd, ks.Name(), td.Name()))
			}
		}
	}
	out := make([]Table, 0, len(byKey))
	for _, t := range byKey {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Keyspace != out[j].Keyspace {
			return out[i].Keyspace < out[j].Keyspace
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// File is one component file of an SSTable.
type File struct {
	// Name is the file name, e.g. nb-3-big-Data.db.
	Name string
	// Path is the file's path on disk.
	Path string
	// Size is the file size in bytes.
	Size int64
}

// SSTable is one SSTable: the set of its component files.
type SSTable struct {
	// Name is the name its components share, e.g. nb-3-big.
	Name string
	// Generation is the SSTable's generation.
	Generation string
	// Index is the secondary index directory (".idx_name") for index SSTables, else empty.
	Index string
	// Dir is the directory that holds the files.
	Dir string
	// Digest is the whole-file digest of Data.db as written in the Digest component.
	Digest string
	// Files are the components, sorted by name.
	Files []File
}

// Size returns the total size of the SSTable's files.
func (s SSTable) Size() int64 {
	var n int64
	for _, f := range s.Files {
		n += f.Size
	}
	return n
}

// ReadSSTables reads the SSTables in dir and in its secondary index directories (".<index>").
// Files that are not SSTable components (manifest.json, schema.cql, transaction logs) are skipped.
// Every SSTable must have a Data.db component; its digest is read from Digest.crc32 (or
// Digest.adler32, Digest.sha1), or computed as the CRC32 of Data.db when none exists.
func ReadSSTables(dir string) ([]SSTable, error) {
	out, err := readSSTables(dir, "")
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read sstables: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && validName(e.Name()[1:]) {
			idx, err := readSSTables(filepath.Join(dir, e.Name()), e.Name())
			if err != nil {
				return nil, err
			}
			out = append(out, idx...)
		}
	}
	return out, nil
}

func readSSTables(dir, index string) ([]SSTable, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read sstables: %w", err)
	}
	byName := map[string]*SSTable{}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		d, err := ParseDescriptor(e.Name())
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("read sstables: %w", err)
		}
		s := byName[d.SSTable()]
		if s == nil {
			s = &SSTable{Name: d.SSTable(), Generation: d.Generation, Index: index, Dir: dir}
			byName[d.SSTable()] = s
			names = append(names, d.SSTable())
		}
		s.Files = append(s.Files, File{Name: e.Name(), Path: filepath.Join(dir, e.Name()), Size: info.Size()})
	}
	sort.Strings(names)
	out := make([]SSTable, 0, len(names))
	for _, n := range names {
		s := byName[n]
		sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Name < s.Files[j].Name })
		digest, err := sstableDigest(s)
		if err != nil {
			return nil, err
		}
		s.Digest = digest
		out = append(out, *s)
	}
	return out, nil
}

func sstableDigest(s *SSTable) (string, error) {
	have := map[string]string{}
	for _, f := range s.Files {
		have[f.Name] = f.Path
	}
	data, ok := have[s.Name+"-Data.db"]
	if !ok {
		return "", fmt.Errorf("sstable %s in %s: no Data.db component", s.Name, s.Dir)
	}
	for _, c := range digestComponents {
		p, ok := have[s.Name+"-"+c]
		if !ok {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("sstable %s digest: %w", s.Name, err)
		}
		d := strings.TrimSpace(string(b))
		if d == "" || strings.ContainsAny(d, "/\\ \t\n") {
			return "", fmt.Errorf("sstable %s: malformed %s", s.Name, c)
		}
		return d, nil
	}
	sum, err := FileCRC32(data)
	if err != nil {
		return "", fmt.Errorf("sstable %s digest: %w", s.Name, err)
	}
	return strconv.FormatUint(uint64(sum), 10), nil
}

// FileCRC32 returns the CRC32 (IEEE) of a file, the value Cassandra writes into Digest.crc32.
func FileCRC32(path string) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, f); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

// TableSnapshot is one table's part of a snapshot.
type TableSnapshot struct {
	// Table is the table.
	Table Table
	// Dirs are the snapshot directories (<table dir>/snapshots/<tag>), one per data directory.
	Dirs []string
	// SSTables are the SSTables of the snapshot in all its directories.
	SSTables []SSTable
	// Schema is the CREATE statement Cassandra wrote into schema.cql, if any.
	Schema string
}

// Snapshot finds snapshot tag of the selected tables under the data directories.
// Tables without a snapshot directory for tag are left out.
func Snapshot(dataDirs []string, tag string, entities Entities) ([]TableSnapshot, error) {
	var out []TableSnapshot
	err := EachSnapshot(dataDirs, tag, entities, func(ts TableSnapshot) error {
		out = append(out, ts)
		return nil
	})
	return out, err
}

// EachSnapshot calls fn with each table's part of snapshot tag, as Snapshot finds them,
// one table at a time: a caller that keeps only what it needs of each holds one table's
// files at a time.
func EachSnapshot(dataDirs []string, tag string, entities Entities, fn func(TableSnapshot) error) error {
	if tag == "" || strings.ContainsAny(tag, `/\`) || tag == "." || tag == ".." {
		return fmt.Errorf("snapshot tag %q is not a valid directory name", tag)
	}
	tables, err := Tables(dataDirs)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if !entities.Match(t.Keyspace, t.Name) {
			continue
		}
		ts := TableSnapshot{Table: t}
		for _, td := range t.Dirs {
			dir := filepath.Join(td, SnapshotsDir, tag)
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				continue
			} else if err != nil {
				return fmt.Errorf("snapshot %s: %w", tag, err)
			}
			ss, err := ReadSSTables(dir)
			if err != nil {
				return fmt.Errorf("snapshot %s of %s.%s: %w", tag, t.Keyspace, t.Name, err)
			}
			ts.Dirs = append(ts.Dirs, dir)
			ts.SSTables = append(ts.SSTables, ss...)
			if ts.Schema == "" {
				b, err := os.ReadFile(filepath.Join(dir, "schema.cql"))
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("snapshot %s schema: %w", tag, err)
				}
				ts.Schema = string(b)
			}
		}
		if len(ts.Dirs) > 0 {
			if err := fn(ts); err != nil {
				return err
			}
		}
	}
	return nil
}
