package agent

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

func TestStatOf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nb-1-big-Statistics.db")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	stat := func() string {
		t.Helper()
		s, err := fileStat(path, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// A file modified within the settling time has none: it could change again within the
	// same tick of the filesystem's clock. A whole-second time may be a coarse clock's.
	whole := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	fine := whole.Add(123456789 * time.Nanosecond)
	for _, tt := range []struct {
		name       string
		mtime, now time.Time
		want       bool
	}{
		{"fine, 50 ms old", fine, fine.Add(50 * time.Millisecond), false},
		{"fine, 150 ms old", fine, fine.Add(150 * time.Millisecond), true},
		{"whole second, 150 ms old", whole, whole.Add(150 * time.Millisecond), false},
		{"whole second, 1.5 s old", whole, whole.Add(1500 * time.Millisecond), false},
		{"whole second, 2.5 s old", whole, whole.Add(2500 * time.Millisecond), true},
		{"from the future", fine, fine.Add(-time.Minute), false},
	} {
		setMtime(t, path, tt.mtime)
		s, err := fileStat(path, tt.now)
		if err != nil {
			t.Fatal(err)
		}
		if got := s != ""; got != tt.want {
			t.Errorf("%s: identity %q, want one: %v", tt.name, s, tt.want)
		}
	}
	old := now.Add(-time.Hour)
	setMtime(t, path, old)
	first := stat()
	if first == "" {
		t.Fatal("a file modified an hour ago has no identity")
	}
	if s, _ := fileStat(path, now); s != first {
		t.Errorf("identity changed with nothing done: %q then %q", first, s)
	}
	// A hard link (a snapshot) changes the change time, not the identity.
	if err := os.Link(path, path+".snap"); err != nil {
		t.Fatal(err)
	}
	if s := stat(); s != first {
		t.Errorf("identity changed by a hard link: %q then %q", first, s)
	}
	os.Remove(path + ".snap")

	setMtime(t, path, old.Add(time.Nanosecond))
	if s := stat(); s == first {
		t.Error("identity unchanged by a modification time one nanosecond later")
	}
	// The same content, size and modification time in a new file renamed over it: a new inode.
	if err := os.WriteFile(path+".tmp", []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	setMtime(t, path+".tmp", old)
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
	if s := stat(); s == first || s == "" {
		t.Errorf("identity %q after a rename over the file; want a new one (was %q)", s, first)
	}
	renamed := stat()
	if err := os.WriteFile(path, []byte("01234567890"), 0o644); err != nil {
		t.Fatal(err)
	}
	setMtime(t, path, old)
	if s := stat(); s == renamed {
		t.Error("identity unchanged by a new size")
	}
	if _, err := fileStat(filepath.Join(dir, "missing"), now); err == nil {
		t.Error("no error for a missing file")
	}
}

func setMtime(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// ageFiles sets the modification time of every live file of the node to mtime.
func ageFiles(t *testing.T, e *env, mtime time.Time) {
	t.Helper()
	for _, d := range e.node.DataDirs() {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.Type().IsRegular() {
				err = os.Chtimes(p, mtime, mtime)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// writeInPlace changes the first byte of path in place (same inode, same size) and puts
// its modification time back to mtime.
func writeInPlace(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{b[0] ^ 0xff}, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	setMtime(t, path, mtime)
}

// A backup of unchanged data reads no file: a component other than Data.db whose
// identity (device, inode, size, modification time) the newest manifest records is taken
// for the object under its key without being opened, while a change of its modification
// time, of its inode, or a modification in the settling window before the backup that
// recorded it, makes the next backup read it again. The first step proves that the file is
// not read: its content is changed behind its old identity, which only reading would see.
func TestUnchangedFilesNotReread(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	ageFiles(t, e, old)
	backup := func(tag string, wantFiles int) {
		t.Helper()
		o := e.submit(e.request(api.TypeBackup, tag))
		if o.State != api.StateCompleted || o.FilesTransferred != wantFiles {
			t.Fatalf("backup %s: %s, %d files uploaded, want %d (%v)", tag, o.State, o.FilesTransferred, wantFiles, o.Errors)
		}
	}
	backup("s1", len(liveNames(t, e)))

	tb, _ := e.node.Table("ks1", "t1")
	ss, _ := e.node.SSTables("ks1", "t1")
	component := func(i int, name string) string { return filepath.Join(tb.Dirs[0], ss[i].Name+"-"+name) }

	// Same identity: not read, so the forged change goes unseen (the trust rclone also
	// gives size and modification time).
	stats := component(0, "Statistics.db")
	writeInPlace(t, stats, old)
	backup("s2", 0)
	// Another modification time: read, and the new content goes under its revision key.
	setMtime(t, stats, old.Add(time.Millisecond))
	backup("s3", 1)

	// Another inode (a rewrite through a rename), same size and modification time: read.
	summary := component(0, "Summary.db")
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	rewrite(t, summary, func(b []byte) []byte { b = bytes.Clone(b); b[0] ^= 0xff; return b })
	setMtime(t, summary, old)
	backup("s4", 1)

	// Modified just before a backup: that backup records no identity for it, so a change
	// within the same tick of the filesystem's clock is still seen by the next one. (The
	// time is a minute ahead, so the window holds however slow the machine is.)
	filter := component(0, "Filter.db")
	recent := time.Now().Add(time.Minute)
	setMtime(t, filter, recent)
	backup("s5", 0)
	writeInPlace(t, filter, recent)
	backup("s6", 1)
	setMtime(t, filter, old)
	backup("s7", 0)

	// The last backup restores to exactly the live files.
	want := liveFiles(t, e.node.DataDirs(), all)
	if got := want[relTo(t, e, summary)]; bytes.Equal(got, b) {
		t.Fatal("the rewrite did not change Summary.db")
	}
	spec := e.restoreSpec("s7")
	if _, err := fileAgent().Restore(context.Background(), spec, &Tracker{}); err != nil {
		t.Fatal(err)
	}
	got := liveFiles(t, spec.DataDirs, all)
	if len(got) != len(want) {
		t.Errorf("restore: %d files, want %d", len(got), len(want))
	}
	for p, b := range want {
		if !bytes.Equal(got[p], b) {
			t.Errorf("restore: %s differs from the live file", p)
		}
	}
}

func relTo(t *testing.T, e *env, path string) string {
	t.Helper()
	rel, err := filepath.Rel(e.node.DataDirs()[0], path)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}
