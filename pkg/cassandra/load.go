package cassandra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// GenerationGap separates the generations given to SSTables placed for a Cassandra 3.x
// refresh from the highest generation on disk. Cassandra 3.x numbers new SSTables from an
// in-memory counter that usually equals that highest generation, so a flush or compaction
// that runs between placing and loading would otherwise be handed the same name.
const GenerationGap = 100000

// MajorVersion returns the major version of a Cassandra release such as 3.11.17 or 4.0-beta4.
func MajorVersion(release string) (int, error) {
	s := strings.TrimSpace(release)
	if i := strings.IndexAny(s, ".-"); i >= 0 {
		s = s[:i]
	}
	major, err := strconv.Atoi(s)
	if err != nil || major <= 0 {
		return 0, fmt.Errorf("cassandra release %q: no major version", release)
	}
	return major, nil
}

// LoadSSTables loads the SSTables staged in dir (one table's verified download, on the
// file system of dataDirs[0]) into the live table keyspace.table.
//
// Cassandra 4.0 and later import them with importNewSSTables. Cassandra 3.x has no import,
// nor has a node controlled through the Management API (CanImport): there
// the SSTables are hard-linked into the table's directory under dataDirs[0] with fresh
// generations, Data.db last, and loadNewSSTables (nodetool refresh) picks them up. The
// node's release decides which before anything changes, rather than the text and status of
// a failed import (which differ between Jolokia and Cassandra versions); the 3.x path needs
// the release anyway to refuse SSTable formats the node cannot read.
func LoadSSTables(ctx context.Context, node Node, dataDirs []string, keyspace, table, dir string) error {
	release, err := node.ReleaseVersion(ctx)
	if err != nil {
		return err
	}
	major, err := MajorVersion(release)
	if err != nil {
		return err
	}
	switch {
	case major >= 4 && CanImport(node):
		failed, err := node.ImportSSTables(ctx, keyspace, table, []string{dir})
		if err != nil {
			return err
		}
		if len(failed) > 0 {
			return fmt.Errorf("import into %s.%s: Cassandra refused the SSTables in %s", keyspace, table, strings.Join(failed, ", "))
		}
		return nil
	case major >= 3:
		if len(dataDirs) == 0 {
			return errors.New("refresh: no data directories")
		}
		return refresh(ctx, node, release, dataDirs, keyspace, table, dir)
	default:
		return fmt.Errorf("cassandra %s: restoring into a running node needs Cassandra 3.0 or later", release)
	}
}

// refresh is LoadSSTables for Cassandra 3.x and for a node that cannot import.
func refresh(ctx context.Context, node Node, release string, dataDirs []string, keyspace, table, dir string) error {
	staged, err := ReadSSTables(dir)
	if err != nil {
		return err
	}
	if len(staged) == 0 {
		return nil
	}
	major, err := MajorVersion(release)
	if err != nil {
		return err
	}
	for _, s := range staged {
		if err := checkRefreshable(s, release, major); err != nil {
			return err
		}
	}
	name, err := liveTableDir(ctx, node, dataDirs, keyspace, table)
	if err != nil {
		return err
	}
	var tableDirs []string
	for _, dd := range dataDirs {
		tableDirs = append(tableDirs, filepath.Join(dd, keyspace, name))
	}
	maxGen, err := maxGeneration(tableDirs)
	if err != nil {
		return err
	}
	plan, err := planRefresh(staged, maxGen+GenerationGap)
	if err != nil {
		return err
	}
	tableDir := tableDirs[0]
	if err := place(tableDir, plan); err != nil {
		return err
	}
	if err := node.LoadNewSSTables(ctx, keyspace, table); err != nil {
		if !errors.Is(err, ErrRefused) {
			// The node may still be loading them: leave the complete sets for it (or for
			// its next start) rather than pull files from under it.
			return fmt.Errorf("%w (the SSTables stay in %s)", err, tableDir)
		}
		unplace(tableDir, plan)
		return err
	}
	// Cassandra renames every new SSTable it loads; one still under its placed name was skipped.
	var skipped []placement
	for _, p := range plan {
		if p.links[len(p.links)-1].placedAt(tableDir) {
			skipped = append(skipped, p)
		}
	}
	if len(skipped) > 0 {
		unplace(tableDir, skipped)
		names := make([]string, len(skipped))
		for i, p := range skipped {
			names[i] = p.from.Name
		}
		return fmt.Errorf("refresh %s.%s: Cassandra did not load %s (see its log)", keyspace, table, strings.Join(names, ", "))
	}
	for _, s := range staged {
		for _, f := range s.Files {
			os.Remove(f.Path)
		}
	}
	return nil
}

// checkRefreshable rejects staged SSTables that the node's release cannot load (see
// readable), secondary index SSTables, incomplete component sets (per TOC.txt)
// and a Data.db that does not match its Digest.crc32.
func checkRefreshable(s SSTable, release string, major int) error {
	if s.Index != "" {
		return fmt.Errorf("sstable %s of index %s: index SSTables are rebuilt, not loaded", s.Name, s.Index)
	}
	d, err := ParseDescriptor(s.Name + "-Data.db")
	if err != nil {
		return err
	}
	if !readable(d, release, major) {
		return fmt.Errorf("sstable %s: Cassandra %s cannot read this format (a backup of a newer release?)", s.Name, release)
	}
	have := map[string]bool{}
	for _, f := range s.Files {
		have[f.Name] = true
	}
	if have[s.Name+"-TOC.txt"] {
		toc, err := os.ReadFile(filepath.Join(s.Dir, s.Name+"-TOC.txt"))
		if err != nil {
			return fmt.Errorf("sstable %s: %w", s.Name, err)
		}
		for _, c := range strings.Fields(string(toc)) {
			if !have[s.Name+"-"+c] {
				return fmt.Errorf("sstable %s: component %s listed in TOC.txt is missing", s.Name, c)
			}
		}
	}
	if have[s.Name+"-Digest.crc32"] {
		sum, err := FileCRC32(filepath.Join(s.Dir, s.Name+"-Data.db"))
		if err != nil {
			return fmt.Errorf("sstable %s: %w", s.Name, err)
		}
		if strconv.FormatUint(uint64(sum), 10) != s.Digest {
			return fmt.Errorf("sstable %s: Data.db does not match Digest.crc32", s.Name)
		}
	}
	return nil
}

// liveTableDir returns the directory name (<table>-<id>) of the live table keyspace.table.
// A table dropped and created again leaves directories with other ids; then a snapshot
// shows which one the node uses.
func liveTableDir(ctx context.Context, node Node, dataDirs []string, keyspace, table string) (string, error) {
	candidates := map[string]bool{}
	for _, dd := range dataDirs {
		entries, err := os.ReadDir(filepath.Join(dd, keyspace))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("keyspace directory: %w", err)
		}
		for _, e := range entries {
			if name, _, err := ParseTableDir(e.Name()); err == nil && e.IsDir() && name == table {
				candidates[e.Name()] = true
			}
		}
	}
	var names []string
	for n := range candidates {
		names = append(names, n)
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		return "", fmt.Errorf("table %s.%s has no directory in %s", keyspace, table, strings.Join(dataDirs, ", "))
	case 1:
		return names[0], nil
	}
	tag := probeTag()
	if err := node.TakeSnapshot(ctx, tag, Entity{Keyspace: keyspace, Table: table}); err != nil {
		return "", fmt.Errorf("find the directory of %s.%s: %w", keyspace, table, err)
	}
	defer node.ClearSnapshot(context.WithoutCancel(ctx), tag, keyspace)
	var live []string
	for _, n := range names {
		for _, dd := range dataDirs {
			if _, err := os.Stat(filepath.Join(dd, keyspace, n, SnapshotsDir, tag)); err == nil {
				live = append(live, n)
				break
			}
		}
	}
	if len(live) != 1 {
		return "", fmt.Errorf("table %s.%s: cannot tell which of %s is live", keyspace, table, strings.Join(names, ", "))
	}
	return live[0], nil
}

// maxGeneration returns the highest numeric generation of any SSTable file in the table
// directories, their backups and their snapshots (0 when there is none).
func maxGeneration(tableDirs []string) (int, error) {
	max := 0
	scan := func(dir string) error {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("table directory: %w", err)
		}
		for _, e := range entries {
			d, err := ParseDescriptor(e.Name())
			if err != nil || d.UUIDGeneration() {
				continue
			}
			if g, err := strconv.Atoi(d.Generation); err == nil && g > max {
				max = g
			}
		}
		return nil
	}
	for _, td := range tableDirs {
		dirs := []string{td, filepath.Join(td, "backups")}
		snaps, _ := os.ReadDir(filepath.Join(td, SnapshotsDir))
		for _, s := range snaps {
			if s.IsDir() {
				dirs = append(dirs, filepath.Join(td, SnapshotsDir, s.Name()))
			}
		}
		for _, d := range dirs {
			if err := scan(d); err != nil {
				return 0, err
			}
		}
	}
	return max, nil
}

// placement is one staged SSTable and the names its files take in the table directory.
type placement struct {
	from SSTable
	// links pairs each staged file with its new name, Data.db last.
	links []link
}

type link struct {
	from, to string
	// placed is the file as placed, to tell it from another that later took its name.
	placed os.FileInfo
}

// placedAt reports whether dir still holds the placed file under its new name.
func (l link) placedAt(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, l.to))
	return err == nil && l.placed != nil && os.SameFile(fi, l.placed)
}

// planRefresh gives the staged SSTables consecutive generations from first on, in the
// order of their own generations. All components of one SSTable share the new generation;
// their contents do not change (TOC.txt lists component names, Digest.crc32 holds a
// checksum, neither names the generation). Data.db comes last in each SSTable's links:
// Cassandra 3.x deletes a component set without Data.db as an orphan when it starts, so a
// set cut short is never loaded.
func planRefresh(staged []SSTable, first int) ([]placement, error) {
	ss := append([]SSTable(nil), staged...)
	gen := func(s SSTable) int { g, _ := strconv.Atoi(s.Generation); return g }
	sort.SliceStable(ss, func(i, j int) bool {
		if gen(ss[i]) != gen(ss[j]) {
			return gen(ss[i]) < gen(ss[j])
		}
		return ss[i].Name < ss[j].Name
	})
	if first < 1 || first > math.MaxInt32-len(ss) {
		return nil, fmt.Errorf("refresh: generation %d is out of Cassandra's range", first)
	}
	out := make([]placement, 0, len(ss))
	for i, s := range ss {
		p := placement{from: s}
		var data *link
		for _, f := range s.Files {
			d, err := ParseDescriptor(f.Name)
			if err != nil {
				return nil, err
			}
			d.Generation = strconv.Itoa(first + i)
			l := link{from: f.Path, to: d.FileName()}
			if d.Component == "Data.db" {
				data = &l
				continue
			}
			p.links = append(p.links, l)
		}
		if data == nil {
			return nil, fmt.Errorf("sstable %s: no Data.db component", s.Name)
		}
		p.links = append(p.links, *data)
		out = append(out, p)
	}
	return out, nil
}

// place links the planned files into dir without replacing any file. On failure it removes
// what it placed, so the directory holds no partial set.
func place(dir string, plan []placement) error {
	for i := range plan {
		for j := range plan[i].links {
			l := &plan[i].links[j]
			dst := filepath.Join(dir, l.to)
			err := linkOrCopy(l.from, dst)
			if err == nil {
				l.placed, err = os.Lstat(dst)
			}
			if err != nil {
				unplace(dir, plan[:i+1])
				return fmt.Errorf("place sstable %s: %w", plan[i].from.Name, err)
			}
		}
	}
	return nil
}

// unplace removes the placed files of SSTables, Data.db first so that no set stays
// complete; a file that is no longer the one placed stays.
func unplace(dir string, plan []placement) {
	for _, p := range plan {
		for j := len(p.links) - 1; j >= 0; j-- {
			if p.links[j].placedAt(dir) {
				os.Remove(filepath.Join(dir, p.links[j].to))
			}
		}
	}
}

// linkOrCopy hard-links src to dst, or copies it when they are on different file systems;
// it never replaces an existing dst.
func linkOrCopy(src, dst string) error {
	err := os.Link(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	// Copy under a name Cassandra does not take for an SSTable, then link it into place,
	// so that dst never exists half-written.
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), ".restoretmp*")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Link(out.Name(), dst)
}

// readable reports whether Cassandra release (of major version major) reads an SSTable of
// d's format, version and generation: 3.x reads big up to version m* with numeric
// generations; 4.0 big up to n*; 4.1 adds time-UUID generations; 5.0 reads big and bti up
// to o* and d*.
func readable(d Descriptor, release string, major int) bool {
	switch {
	case major == 3:
		return d.Format == "big" && !d.UUIDGeneration() && d.Version[0] <= 'm'
	case major == 4:
		uuidOK := !strings.HasPrefix(strings.TrimSpace(release), "4.0")
		return d.Format == "big" && d.Version[0] <= 'n' && (uuidOK || !d.UUIDGeneration())
	default:
		return d.Format == "big" && d.Version[0] <= 'o' || d.Format == "bti" && d.Version[0] <= 'd'
	}
}

// probeTag is the tag of a snapshot taken only to look at a live table, cleared at once.
func probeTag() string {
	var b [6]byte
	rand.Read(b[:])
	return "restore-probe-" + hex.EncodeToString(b[:])
}
