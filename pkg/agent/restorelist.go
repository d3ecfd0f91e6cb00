package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// restoreList is what a restore fetches: the entries of the manifest its tables keep,
// spilled to disk (a node's manifest may list millions of files), with the local path
// each goes to.
type restoreList struct {
	header layout.ManifestHeader
	// bySize holds sizeDesc(size) objectKey, size, hash, local path: largest first.
	bySize *spill
	// wanted holds the local paths relative to the data directory, for removeStrays.
	wanted *spill
	// tables are the restored tables by directory, <ks>/<table>-<id>.
	tables map[string]cassandra.Table
	// dataDir is the data directory the local paths are in.
	dataDir string
	// gens, when gathered, holds the SSTable generations of each table directory, for
	// renumber; nil otherwise.
	gens map[string]map[string]bool
	// rename changes a file's local path (another generation, see renumber) as the list
	// is read back; nil keeps it. The spills hold the paths the manifest gives.
	rename func(path string) string
}

// readRestoreList streams the manifest at ref into a restoreList of the entries keep
// accepts, in spill directory dir, gathering the SSTables' generations when gens is set.
// A read that breaks is started over; a manifest that does not validate is refused at once.
func readRestoreList(ctx context.Context, p storage.Provider, ref layout.Ref, keep func(layout.File) bool, gens bool, dataDir, dir string) (*restoreList, error) {
	var l *restoreList
	var refused error
	err := retryFile(ctx, nil, func(ctx context.Context) error {
		l.close()
		l = &restoreList{bySize: newSpill(dir), wanted: newSpill(dir), tables: map[string]cassandra.Table{}, dataDir: dataDir}
		if gens {
			l.gens = map[string]map[string]bool{}
		}
		var addErr error
		h, err := layout.Catalog{Storage: p}.ScanManifestAt(ctx, ref.Key, func(f layout.File) error {
			if !keep(f) {
				return nil
			}
			addErr = l.add(f)
			return addErr
		})
		l.header = h
		var bad *layout.RefusedError
		switch {
		case err == nil:
		case errors.As(err, &bad):
			refused = err
		case addErr != nil:
			refused = fmt.Errorf("manifest %s refused: %w", ref.Key, err)
		default:
			return err // a broken download: started over
		}
		return nil
	})
	if err = cmp.Or(err, refused); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func (l *restoreList) add(f layout.File) error {
	lp, err := layout.LocalPath(l.dataDir, f.ObjectKey)
	if err != nil {
		return err
	}
	if l.gens != nil {
		if d, err := cassandra.ParseDescriptor(filepath.Base(lp)); err == nil { // else restored under its name
			dir := filepath.Dir(lp)
			if l.gens[dir] == nil {
				l.gens[dir] = map[string]bool{}
			}
			l.gens[dir][d.Generation] = true
		}
	}
	if err := l.bySize.Add(record(sizeDesc(f.Size)+f.ObjectKey, strconv.FormatInt(f.Size, 10), f.Hash, lp)); err != nil {
		return err
	}
	rel, _ := filepath.Rel(l.dataDir, lp)
	l.tables[filepath.Join(f.Keyspace, cassandra.TableDirName(f.Table, f.TableID))] = cassandra.Table{Keyspace: f.Keyspace, Name: f.Table, ID: f.TableID}
	return l.wanted.Add(record(rel))
}

// localPath returns where the file at lp, a path the manifest gives, is restored.
func (l *restoreList) localPath(lp string) string {
	if l.rename == nil {
		return lp
	}
	return l.rename(lp)
}

// each calls fn with every entry, largest first, and its local path.
func (l *restoreList) each(fn func(e layout.Entry, path string) error) error {
	return l.bySize.Each(func(rec []byte) error {
		f := fields(rec[8:], 4)
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		return fn(layout.Entry{ObjectKey: f[0], Type: layout.TypeFile, Size: size, Hash: f[2]}, l.localPath(f[3]))
	})
}

// eachWanted calls fn with the local path of every entry, relative to the data directory.
func (l *restoreList) eachWanted(fn func(rel string) error) error {
	return l.wanted.Each(func(rec []byte) error {
		if l.rename == nil {
			return fn(string(rec))
		}
		rel, _ := filepath.Rel(l.dataDir, l.rename(filepath.Join(l.dataDir, string(rec))))
		return fn(rel)
	})
}

func (l *restoreList) close() {
	if l != nil {
		l.bySize.Close()
		l.wanted.Close()
	}
}

// Kinds of the records removeStrays sorts: a local file sorts before the wanted entry of
// the same path.
const (
	strayLocal  = "L"
	strayWanted = "W"
)

// removeStrays deletes SSTable files of the restored tables that the manifest does not
// hold, and leftover temporary files, so that no other data comes back to life. The
// local files and the wanted paths are sorted together on disk and joined.
func removeStrays(l *restoreList, dataDirs []string, dir string) error {
	for _, dd := range dataDirs {
		s := newSpill(dir)
		err := l.eachWanted(func(rel string) error { return s.Add(record(rel, strayWanted)) })
		if err == nil {
			err = localSSTables(dd, l.tables, func(rel string) error { return s.Add(record(rel, strayLocal)) })
		}
		pending := ""
		if err == nil {
			err = s.Each(func(rec []byte) error {
				f := fields(rec, 2)
				if pending != "" && (f[1] != strayWanted || f[0] != pending) {
					if err := os.Remove(filepath.Join(dd, pending)); err != nil {
						return err
					}
				}
				pending = ""
				if f[1] == strayLocal {
					pending = f[0]
				}
				return nil
			})
		}
		if err == nil && pending != "" {
			err = os.Remove(filepath.Join(dd, pending))
		}
		s.Close()
		if err != nil {
			return fmt.Errorf("remove stray sstables: %w", err)
		}
	}
	return nil
}

// localSSTables calls fn with the path relative to dd of every SSTable file and leftover
// temporary file of the tables (not in snapshots or backups).
func localSSTables(dd string, tables map[string]cassandra.Table, fn func(rel string) error) error {
	for t := range tables {
		root := filepath.Join(dd, t)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != root && !strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir // snapshots, backups
				}
				return nil
			}
			if strings.HasPrefix(d.Name(), ".restore-") {
				return os.Remove(path)
			}
			if _, perr := cassandra.ParseDescriptor(d.Name()); perr == nil {
				rel, _ := filepath.Rel(dd, path)
				return fn(rel)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
