package cassandra

import (
	"strings"
	"testing"
)

// orders is a schema.cql as Cassandra 4.1 writes it into a snapshot: a type, the table
// with a dropped column listed and then dropped, an index.
const orders = `CREATE TYPE IF NOT EXISTS shop.addr (street text, zip int);
CREATE TABLE IF NOT EXISTS shop.orders (
    id uuid,
    region text,
    ts timeuuid,
    "Note" text,
    items map<text, frozen<list<int>>>,
    owner text static,
    old int,
    PRIMARY KEY ((id, region), ts)
) WITH ID = 5a1c395e-b41f-11e5-9f22-ba0be0483c18
    AND CLUSTERING ORDER BY (ts DESC)
    AND comment = 'clustering order by (x); PRIMARY KEY (y)'
    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'max_threshold': '32'};
ALTER TABLE shop.orders DROP old USING TIMESTAMP 1700000000000000;
CREATE INDEX IF NOT EXISTS orders_note ON shop.orders ("Note");
`

func TestParseTableSchema(t *testing.T) {
	s, err := ParseTableSchema(orders)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Column{
		"id":     {Type: "uuid", Kind: PartitionKey, Position: 0},
		"region": {Type: "text", Kind: PartitionKey, Position: 1},
		"ts":     {Type: "timeuuid", Kind: Clustering, Position: 0, Order: "DESC"},
		"Note":   {Type: "text", Kind: Regular},
		"items":  {Type: "map<text,frozen<list<int>>>", Kind: Regular},
		"owner":  {Type: "text", Kind: Static},
	}
	if s.Keyspace != "shop" || s.Name != "orders" || len(s.Columns) != len(want) {
		t.Fatalf("parsed %s.%s %+v", s.Keyspace, s.Name, s.Columns)
	}
	for n, c := range want {
		if s.Columns[n] != c {
			t.Errorf("column %s: %+v, want %+v", n, s.Columns[n], c)
		}
	}
	if !s.Dropped["old"] || len(s.Dropped) != 1 {
		t.Errorf("dropped: %v", s.Dropped)
	}
}

func TestParseTableSchemaInlineKeyAndFormatting(t *testing.T) {
	a, err := ParseTableSchema("CREATE TABLE ks.t (id uuid PRIMARY KEY, value blob) WITH comment = 'a';")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseTableSchema("create table if not exists KS.T (\n\tID UUID,\n\tVALUE  Blob,\n\tprimary key (id)\n) with compaction = {'class': 'LeveledCompactionStrategy'}")
	if err != nil {
		t.Fatal(err)
	}
	if d := a.Diff(b); d != "" {
		t.Errorf("formatting and options made a difference: %s", d)
	}
	if a.Columns["id"].Kind != PartitionKey {
		t.Errorf("inline PRIMARY KEY: %+v", a.Columns)
	}
}

func TestTableSchemaDiff(t *testing.T) {
	base := "CREATE TABLE ks.t (id uuid, ck int, v text, s int static, PRIMARY KEY (id, ck)) WITH CLUSTERING ORDER BY (ck ASC);"
	for _, tc := range []struct{ name, live, want string }{
		{"same", base, ""},
		{"column added", base + "ALTER TABLE ks.t ADD extra int;", "column extra (int) on the node is not in the backup"},
		{"type changed", strings.Replace(base, "v text", "v int", 1), "column v is text in the backup, int on the node"},
		{"column dropped", base + "ALTER TABLE ks.t DROP v USING TIMESTAMP 5;", "column v (text) of the backup was dropped on the node"},
		{"dropped and added with another type", base + "ALTER TABLE ks.t DROP v USING TIMESTAMP 5; ALTER TABLE ks.t ADD v blob;", "column v is text in the backup, blob on the node"},
		{"static became regular", strings.Replace(base, "s int static", "s int", 1), "column s is a static column in the backup, a regular column on the node"},
		{"clustering order", strings.Replace(base, "ck ASC", "ck DESC", 1), "clustering column ck is ordered ASC in the backup, DESC on the node"},
		{"key order", strings.Replace(strings.Replace(base, "PRIMARY KEY (id, ck)", "PRIMARY KEY ((id, ck))", 1), " WITH CLUSTERING ORDER BY (ck ASC)", "", 1), "column ck is a clustering column in the backup, a partition_key column on the node"},
		{"missing", "CREATE TABLE ks.t (id uuid, ck int, s int static, PRIMARY KEY (id, ck));", "column v (text) of the backup is not on the node"},
	} {
		b, err := ParseTableSchema(base)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ParseTableSchema(tc.live)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := b.Diff(l); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParseTableSchemaRefuses(t *testing.T) {
	for _, cql := range []string{
		"",
		"CREATE INDEX i ON ks.t (v);",
		"CREATE TABLE ks.t (id uuid, v text);",
		"CREATE TABLE ks.t (id uuid, PRIMARY KEY (nope));",
		"CREATE TABLE ks.t (id uuid PRIMARY KEY",
		"CREATE TABLE ks.t (id uuid PRIMARY KEY, v 'text);",
	} {
		if _, err := ParseTableSchema(cql); err == nil {
			t.Errorf("%q: accepted", cql)
		}
	}
}
