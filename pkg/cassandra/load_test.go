package cassandra

import (
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestMajorVersion(t *testing.T) {
	for release, want := range map[string]int{"3.11.17": 3, "3.0.30": 3, "4.0-beta4": 4, "4.1.5": 4, "5.0.2": 5, " 4 ": 4, "": 0, "x.1": 0, "0.8": 0} {
		got, err := MajorVersion(release)
		if got != want || (err != nil) != (want == 0) {
			t.Errorf("MajorVersion(%q) = %d, %v; want %d", release, got, err, want)
		}
	}
}

// stageSSTable writes a complete mc SSTable of generation gen into dir and returns its
// component names (without prefix) mapped to their contents.
func stageSSTable(t *testing.T, dir, version string, gen int, data string) map[string]string {
	t.Helper()
	prefix := version + "-" + strconv.Itoa(gen) + "-big-"
	files := map[string]string{
		"Data.db":       data,
		"Index.db":      "index of " + data,
		"Statistics.db": "stats",
		"Digest.crc32":  strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(data))), 10),
		"TOC.txt":       "Data.db\nDigest.crc32\nIndex.db\nStatistics.db\nTOC.txt\n",
	}
	for c, content := range files {
		writeFile(t, filepath.Join(dir, prefix+c), content)
	}
	return files
}

func TestPlanRefresh(t *testing.T) {
	dir := t.TempDir()
	for _, g := range []int{10, 2, 3} {
		stageSSTable(t, dir, "mc", g, "data "+strconv.Itoa(g))
	}
	staged, err := ReadSSTables(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planRefresh(staged, 100007)
	if err != nil {
		t.Fatal(err)
	}
	// Ordered by the staged generation (numerically), numbered from 100007, all components of
	// an SSTable on one generation, Data.db last.
	want := map[string]string{"mc-2-big": "100007", "mc-3-big": "100008", "mc-10-big": "100009"}
	if len(plan) != 3 {
		t.Fatalf("plan has %d SSTables", len(plan))
	}
	for i, p := range plan {
		gen := want[p.from.Name]
		if i > 0 && gen <= want[plan[i-1].from.Name] {
			t.Errorf("%s placed out of order", p.from.Name)
		}
		if len(p.links) != 5 {
			t.Errorf("%s: %d links", p.from.Name, len(p.links))
		}
		for j, l := range p.links {
			if filepath.Dir(l.from) != dir || !strings.HasPrefix(filepath.Base(l.from), p.from.Name+"-") {
				t.Errorf("%s: link from %s", p.from.Name, l.from)
			}
			component := strings.TrimPrefix(filepath.Base(l.from), p.from.Name+"-")
			if l.to != "mc-"+gen+"-big-"+component {
				t.Errorf("%s: %s → %s", p.from.Name, filepath.Base(l.from), l.to)
			}
			if (component == "Data.db") != (j == len(p.links)-1) {
				t.Errorf("%s: Data.db is not placed last", p.from.Name)
			}
		}
	}
	if _, err := planRefresh(staged, 1<<31-2); err == nil {
		t.Error("generations beyond Cassandra's int range planned")
	}
}

func TestPlaceAndRollBack(t *testing.T) {
	staging, table := t.TempDir(), t.TempDir()
	contents := stageSSTable(t, staging, "mc", 1, "one")
	stageSSTable(t, staging, "mc", 2, "two")
	staged, _ := ReadSSTables(staging)

	plan, _ := planRefresh(staged, 50)
	if err := place(table, plan); err != nil {
		t.Fatal(err)
	}
	placed, err := ReadSSTables(table)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range placed {
		names = append(names, s.Name)
	}
	if !reflect.DeepEqual(names, []string{"mc-50-big", "mc-51-big"}) {
		t.Fatalf("placed %v", names)
	}
	// Contents are unchanged: TOC.txt and Digest.crc32 do not name the generation.
	for c, want := range contents {
		if got, _ := os.ReadFile(filepath.Join(table, "mc-50-big-"+c)); string(got) != want {
			t.Errorf("%s: %q, want %q", c, got, want)
		}
	}
	if err := checkRefreshable(placed[0], "3.11.17", 3); err != nil {
		t.Errorf("placed SSTable: %v", err)
	}

	// A name already taken stops the placement; nothing of it stays, and the file that
	// was there is neither replaced nor removed.
	unplace(table, plan)
	if left, _ := os.ReadDir(table); len(left) != 0 {
		t.Fatalf("unplace left %d files", len(left))
	}
	writeFile(t, filepath.Join(table, "mc-51-big-Statistics.db"), "live")
	plan, _ = planRefresh(staged, 50)
	if err := place(table, plan); err == nil || !strings.Contains(err.Error(), "mc-2-big") {
		t.Fatalf("place over a live file: %v", err)
	}
	left, _ := os.ReadDir(table)
	if len(left) != 1 || left[0].Name() != "mc-51-big-Statistics.db" {
		t.Errorf("after a failed placement: %v", left)
	}
	if b, _ := os.ReadFile(filepath.Join(table, "mc-51-big-Statistics.db")); string(b) != "live" {
		t.Error("live file replaced")
	}
	if s, _ := ReadSSTables(staging); len(s) != 2 {
		t.Error("staged SSTables lost")
	}
}

func TestMaxGeneration(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(d1, "mc-5-big-Data.db"), "x")
	writeFile(t, filepath.Join(d2, "mc-7-big-TOC.txt"), "x")
	writeFile(t, filepath.Join(d1, "backups", "mc-9-big-Data.db"), "x")
	writeFile(t, filepath.Join(d2, SnapshotsDir, "truncated-1-t", "mc-12-big-Data.db"), "x")
	writeFile(t, filepath.Join(d1, "mc_txn_compaction_0d3c.log"), "x")
	got, err := maxGeneration([]string{d1, d2, filepath.Join(t.TempDir(), "missing")})
	if err != nil || got != 12 {
		t.Errorf("maxGeneration = %d, %v; want 12", got, err)
	}
}

func TestCheckRefreshable(t *testing.T) {
	tests := []struct {
		name    string
		version string
		mutate  func(dir string)
		wantErr string
	}{
		{name: "mc", version: "mc"},
		{name: "md from a later 3.11", version: "md"},
		{name: "4.x format", version: "nb", wantErr: "cannot read this format"},
		{name: "missing component", version: "mc", mutate: func(dir string) { os.Remove(filepath.Join(dir, "mc-1-big-Index.db")) }, wantErr: "Index.db listed in TOC.txt is missing"},
		{name: "corrupt Data.db", version: "mc", mutate: func(dir string) { writeFile(t, filepath.Join(dir, "mc-1-big-Data.db"), "oops") }, wantErr: "does not match Digest.crc32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stageSSTable(t, dir, tt.version, 1, "payload")
			if tt.mutate != nil {
				tt.mutate(dir)
			}
			ss, err := ReadSSTables(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = checkRefreshable(ss[0], "3.11.17", 3)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	idx := SSTable{Name: "mc-1-big", Index: ".t_idx"}
	if err := checkRefreshable(idx, "3.11.17", 3); err == nil {
		t.Error("index SSTable accepted")
	}
}
