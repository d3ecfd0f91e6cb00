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

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const tid = "0123456789abcdef0123456789abcdef"

func TestReadSSTables(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    map[string]string // sstable name → digest
		index   map[string]string // sstable name → index dir
		wantErr string
	}{
		{
			name: "crc32 digest",
			files: map[string]string{
				"nb-1-big-Data.db":      "data-one",
				"nb-1-big-Digest.crc32": "123456\n",
				"nb-1-big-TOC.txt":      "Data.db\n",
				"manifest.json":         "{}",
				"schema.cql":            "CREATE TABLE",
			},
			want: map[string]string{"nb-1-big": "123456"},
		},
		{
			name: "adler32 and sha1",
			files: map[string]string{
				"mc-1-big-Data.db":        "a",
				"mc-1-big-Digest.adler32": "99",
				"mc-2-big-Data.db":        "b",
				"mc-2-big-Digest.sha1":    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
			},
			want: map[string]string{"mc-1-big": "99", "mc-2-big": "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		},
		{
			name:  "no digest: crc32 of Data.db",
			files: map[string]string{"oa-4-bti-Data.db": "payload", "oa-4-bti-Partitions.db": "p"},
			want:  map[string]string{"oa-4-bti": strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte("payload"))), 10)},
		},
		{
			name: "uuid generation and secondary index",
			files: map[string]string{
				"nb-3g7c_0x2k_4ss1c2jb3v5h0bhfcj-big-Data.db":      "x",
				"nb-3g7c_0x2k_4ss1c2jb3v5h0bhfcj-big-Digest.crc32": "7",
				".by_email/nb-1-big-Data.db":                       "i",
				".by_email/nb-1-big-Digest.crc32":                  "8",
			},
			want:  map[string]string{"nb-3g7c_0x2k_4ss1c2jb3v5h0bhfcj-big": "7", "nb-1-big": "8"},
			index: map[string]string{"nb-1-big": ".by_email"},
		},
		{
			name:    "missing Data.db",
			files:   map[string]string{"nb-1-big-Index.db": "x"},
			wantErr: "no Data.db",
		},
		{
			name:    "digest with a path in it",
			files:   map[string]string{"nb-1-big-Data.db": "x", "nb-1-big-Digest.crc32": "../x"},
			wantErr: "malformed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, c := range tt.files {
				writeFile(t, filepath.Join(dir, name), c)
			}
			got, err := ReadSSTables(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			digests := map[string]string{}
			for _, s := range got {
				digests[s.Name] = s.Digest
				if s.Index != tt.index[s.Name] {
					t.Errorf("%s: index %q, want %q", s.Name, s.Index, tt.index[s.Name])
				}
				var size int64
				for _, f := range s.Files {
					if !strings.HasPrefix(f.Name, s.Name+"-") {
						t.Errorf("%s holds %s", s.Name, f.Name)
					}
					if f.Path != filepath.Join(s.Dir, f.Name) {
						t.Errorf("path %s not in %s", f.Path, s.Dir)
					}
					size += int64(len(tt.files[filepath.Join(s.Index, f.Name)]))
				}
				if s.Size() != size {
					t.Errorf("%s: Size() = %d, want %d", s.Name, s.Size(), size)
				}
			}
			if !reflect.DeepEqual(digests, tt.want) {
				t.Errorf("digests = %v, want %v", digests, tt.want)
			}
		})
	}
}

func TestTablesAndSnapshotAcrossDataDirs(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	users := "users-" + tid
	other := "other-" + strings.Repeat("f", 32)
	writeFile(t, filepath.Join(d1, "ks1", users, "nb-1-big-Data.db"), "live")
	writeFile(t, filepath.Join(d1, "ks1", users, "snapshots", "tag1", "nb-1-big-Data.db"), "one")
	writeFile(t, filepath.Join(d1, "ks1", users, "snapshots", "tag1", "schema.cql"), "CREATE TABLE ks1.users (id int PRIMARY KEY);")
	writeFile(t, filepath.Join(d2, "ks1", users, "snapshots", "tag1", "nb-2-big-Data.db"), "two")
	writeFile(t, filepath.Join(d2, "ks1", users, "snapshots", "tag2", "nb-3-big-Data.db"), "three")
	writeFile(t, filepath.Join(d2, "ks2", other, "snapshots", "tag1", "nb-1-big-Data.db"), "o")
	writeFile(t, filepath.Join(d2, "ks2", "not-a-table", "x"), "")
	writeFile(t, filepath.Join(d2, "ks2", "file"), "")

	tables, err := Tables([]string{d1, d2})
	if err != nil {
		t.Fatal(err)
	}
	want := []Table{
		{Keyspace: "ks1", Name: "users", ID: tid, Dirs: []string{filepath.Join(d1, "ks1", users), filepath.Join(d2, "ks1", users)}},
		{Keyspace: "ks2", Name: "other", ID: strings.Repeat("f", 32), Dirs: []string{filepath.Join(d2, "ks2", other)}},
	}
	if !reflect.DeepEqual(tables, want) {
		t.Fatalf("Tables = %+v\nwant %+v", tables, want)
	}

	tests := []struct {
		tag      string
		entities Entities
		want     map[string][]string // ks.table → sstables
	}{
		{tag: "tag1", want: map[string][]string{"ks1.users": {"nb-1-big", "nb-2-big"}, "ks2.other": {"nb-1-big"}}},
		{tag: "tag1", entities: Entities{{Keyspace: "ks2"}}, want: map[string][]string{"ks2.other": {"nb-1-big"}}},
		{tag: "tag2", want: map[string][]string{"ks1.users": {"nb-3-big"}}},
		{tag: "none", want: map[string][]string{}},
	}
	for _, tt := range tests {
		snaps, err := Snapshot([]string{d1, d2}, tt.tag, tt.entities)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, s := range snaps {
			var names []string
			for _, ss := range s.SSTables {
				names = append(names, ss.Name)
			}
			got[s.Table.Keyspace+"."+s.Table.Name] = names
			if s.Table.Name == "users" && tt.tag == "tag1" && s.Schema == "" {
				t.Error("schema.cql not read")
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Snapshot(%s, %v) = %v, want %v", tt.tag, tt.entities, got, tt.want)
		}
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if _, err := Snapshot([]string{d1}, bad, nil); err == nil {
			t.Errorf("Snapshot(%q) succeeded", bad)
		}
	}
	if _, err := Tables([]string{filepath.Join(d1, "missing")}); err == nil {
		t.Error("Tables on a missing data directory succeeded")
	}
}

func TestFileCRC32(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, "hello")
	got, err := FileCRC32(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != crc32.ChecksumIEEE([]byte("hello")) {
		t.Errorf("FileCRC32 = %d", got)
	}
}
