package fakecassandra

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
)

// copySSTable copies the files of s into dir, under generation gen.
func copySSTable(t *testing.T, s cassandra.SSTable, dir, gen string) {
	t.Helper()
	for _, f := range s.Files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := cassandra.ParseDescriptor(f.Name)
		d.Generation = gen
		if err := os.WriteFile(filepath.Join(dir, d.FileName()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRelease3x(t *testing.T) {
	ctx := context.Background()
	src := New(t, Config{Release: "3.11.17", Seed: 1})
	if err := src.WriteSSTable("ks", "t", 3000); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := New(t, Config{Release: "3.11.17", Seed: 2, DataDirs: []string{dir}})
	c := n.Client()
	if rv, err := c.ReleaseVersion(ctx); err != nil || rv != "3.11.17" {
		t.Fatalf("ReleaseVersion = %q, %v", rv, err)
	}
	if err := n.WriteSSTable("ks", "t", 100); err != nil {
		t.Fatal(err)
	}
	if err := n.CreateIndex("ks", "t", "idx"); err != nil {
		t.Fatal(err)
	}
	if got := checkSSTables(t, n, "ks", "t"); !reflect.DeepEqual(got, []string{"mc-1-big"}) {
		t.Fatalf("3.x flush wrote %v", got)
	}

	// No importNewSSTables: Jolokia finds no such operation on the table's MBean.
	var je *jolokia.Error
	if _, err := c.ImportSSTables(ctx, "ks", "t", []string{t.TempDir()}); !errors.As(err, &je) || je.Status != 400 || !strings.Contains(je.Message, "No operation") {
		t.Errorf("import on 3.x: %v", err)
	}

	// An SSTable that appears in the table directory is not live until loadNewSSTables,
	// which renames it to a fresh generation and builds its index.
	tb, _ := n.Table("ks", "t")
	ss, _ := src.SSTables("ks", "t")
	copySSTable(t, ss[0], tb.Dirs[0], "500")
	if got := checkSSTables(t, n, "ks", "t"); !reflect.DeepEqual(got, []string{"mc-1-big"}) {
		t.Fatalf("before refresh: %v", got)
	}
	if err := c.LoadNewSSTables(ctx, "ks", "t"); err != nil {
		t.Fatal(err)
	}
	if got := checkSSTables(t, n, "ks", "t"); !reflect.DeepEqual(got, []string{".idxmc-2-big", "mc-1-big", "mc-2-big"}) {
		t.Errorf("after refresh: %v", got)
	}
	want, _ := os.ReadFile(filepath.Join(ss[0].Dir, ss[0].Name+"-Data.db"))
	if got, _ := os.ReadFile(filepath.Join(tb.Dirs[0], "mc-2-big-Data.db")); string(got) != string(want) {
		t.Error("loaded Data.db differs from the one placed")
	}
	if _, err := os.Stat(filepath.Join(tb.Dirs[0], "mc-500-big-Data.db")); !errors.Is(err, os.ErrNotExist) {
		t.Error("loaded SSTable kept its placed name")
	}
	if n.Calls("loadNewSSTables") != 1 {
		t.Errorf("loadNewSSTables called %d times", n.Calls("loadNewSSTables"))
	}

	// A format the release cannot read aborts the load; a set without Data.db fails it.
	nb := New(t, Config{Seed: 3})
	if err := nb.WriteSSTable("ks", "t", 100); err != nil {
		t.Fatal(err)
	}
	nbs, _ := nb.SSTables("ks", "t")
	copySSTable(t, nbs[0], tb.Dirs[0], "600")
	if err := c.LoadNewSSTables(ctx, "ks", "t"); !errors.As(err, &je) || !strings.Contains(je.Message, "incompatible") {
		t.Errorf("refresh of an nb SSTable: %v", err)
	}
	for _, f := range nbs[0].Files {
		os.Remove(filepath.Join(tb.Dirs[0], strings.Replace(f.Name, "-1-", "-600-", 1)))
	}
	copySSTable(t, ss[0], tb.Dirs[0], "700")
	if err := os.Remove(filepath.Join(tb.Dirs[0], "mc-700-big-Data.db")); err != nil {
		t.Fatal(err)
	}
	if err := c.LoadNewSSTables(ctx, "ks", "t"); !errors.As(err, &je) || !strings.Contains(je.Message, "Data component is missing") {
		t.Errorf("refresh of a set without Data.db: %v", err)
	}

	// A restart removes the orphaned set and loads whatever is complete.
	n.Close()
	m := New(t, Config{Release: "3.11.17", Seed: 2, DataDirs: []string{dir}})
	if left, _ := filepath.Glob(filepath.Join(tb.Dirs[0], "mc-700-*")); len(left) != 0 {
		t.Errorf("orphans kept at start: %v", left)
	}
	if got := checkSSTables(t, m, "ks", "t"); !reflect.DeepEqual(got, []string{".idxmc-2-big", "mc-1-big", "mc-2-big"}) {
		t.Errorf("after restart: %v", got)
	}

	if _, err := Start(Config{Release: "3.11.17", Format: "bti", DataDirs: []string{t.TempDir()}}); err == nil {
		t.Error("3.x node with bti SSTables started")
	}
}
