package cassandra

import "testing"

func TestParseDescriptor(t *testing.T) {
	tests := []struct {
		name    string
		want    Descriptor
		uuid    bool
		wantErr bool
	}{
		{name: "mc-1-big-Data.db", want: Descriptor{"mc", "1", "big", "Data.db"}},
		{name: "md-12-big-Digest.crc32", want: Descriptor{"md", "12", "big", "Digest.crc32"}},
		{name: "nb-3-big-TOC.txt", want: Descriptor{"nb", "3", "big", "TOC.txt"}},
		{name: "oa-7-big-Statistics.db", want: Descriptor{"oa", "7", "big", "Statistics.db"}},
		{name: "da-2-bti-Partitions.db", want: Descriptor{"da", "2", "bti", "Partitions.db"}},
		{name: "oa-2-bti-Rows.db", want: Descriptor{"oa", "2", "bti", "Rows.db"}},
		{name: "nb-3g7c_0x2k_4ss1c2jb3v5h0bhfcj-big-Data.db", want: Descriptor{"nb", "3g7c_0x2k_4ss1c2jb3v5h0bhfcj", "big", "Data.db"}, uuid: true},
		{name: "nb-3fw2_0tj4_46w3k2cpidnirvjy7k-big-CompressionInfo.db", want: Descriptor{"nb", "3fw2_0tj4_46w3k2cpidnirvjy7k", "big", "CompressionInfo.db"}, uuid: true},
		{name: "oa-1-big-SAI+aa+tbl_idx+Meta.db", want: Descriptor{"oa", "1", "big", "SAI+aa+tbl_idx+Meta.db"}},
		{name: "manifest.json", wantErr: true},
		{name: "schema.cql", wantErr: true},
		{name: "nb_txn_flush_7c3a3a70-8fda-11ee-a5f5-5d7d1d5f6e1a.log", wantErr: true},
		{name: "ks-tbl-ka-1-Data.db", wantErr: true},
		{name: "nb-x1-big-Data.db", wantErr: true},
		{name: "nb-3g7c_0x2k_4ss1c2jb3v5h0bhfc-big-Data.db", wantErr: true},
		{name: "nb-1-xyz-Data.db", wantErr: true},
		{name: "nb-1-big-", wantErr: true},
		{name: "NB-1-big-Data.db", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDescriptor(tt.name)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if d != tt.want {
				t.Errorf("got %+v, want %+v", d, tt.want)
			}
			if d.FileName() != tt.name {
				t.Errorf("FileName() = %q, want %q", d.FileName(), tt.name)
			}
			if d.UUIDGeneration() != tt.uuid {
				t.Errorf("UUIDGeneration() = %v, want %v", d.UUIDGeneration(), tt.uuid)
			}
		})
	}
}

func TestDescriptorIsDigest(t *testing.T) {
	for name, want := range map[string]bool{
		"nb-1-big-Digest.crc32":   true,
		"mc-1-big-Digest.adler32": true,
		"mc-1-big-Digest.sha1":    true,
		"nb-1-big-Data.db":        false,
		"nb-1-big-CRC.db":         false,
	} {
		d, err := ParseDescriptor(name)
		if err != nil {
			t.Fatal(err)
		}
		if d.IsDigest() != want {
			t.Errorf("%s: IsDigest() = %v, want %v", name, d.IsDigest(), want)
		}
	}
}

func TestParseTableDir(t *testing.T) {
	tests := []struct {
		dir, table, id string
		wantErr        bool
	}{
		{dir: "users-5a1c395e2d9b11e9b8c1a7f5e2b3c4d5", table: "users", id: "5a1c395e2d9b11e9b8c1a7f5e2b3c4d5"},
		{dir: "peers_v2-c4325fbb8e5e3bafbd070f9250ed818e", table: "peers_v2", id: "c4325fbb8e5e3bafbd070f9250ed818e"},
		{dir: "users", wantErr: true},
		{dir: "users-5A1C395E2D9B11E9B8C1A7F5E2B3C4D5", wantErr: true},
		{dir: "users-5a1c395e", wantErr: true},
		{dir: "-5a1c395e2d9b11e9b8c1a7f5e2b3c4d5", wantErr: true},
		{dir: "bad.name-5a1c395e2d9b11e9b8c1a7f5e2b3c4d5", wantErr: true},
		{dir: "snapshots", wantErr: true},
	}
	for _, tt := range tests {
		table, id, err := ParseTableDir(tt.dir)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.dir, err, tt.wantErr)
			continue
		}
		if table != tt.table || id != tt.id {
			t.Errorf("%s: got %q %q, want %q %q", tt.dir, table, id, tt.table, tt.id)
		}
		if !tt.wantErr && TableDirName(table, id) != tt.dir {
			t.Errorf("TableDirName round trip: %q", TableDirName(table, id))
		}
	}
}
