package verify

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// schemaIDRE finds the table id in a CREATE TABLE statement (… WITH ID = <uuid>).
var schemaIDRE = regexp.MustCompile(`(?i)\bWITH\s+ID\s*=\s*([0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})`)

// SchemaTableID returns the table id a schema.cql names, as 32 hex digits; ok is false
// when it names none.
func SchemaTableID(cql string) (string, bool) {
	m := schemaIDRE.FindStringSubmatch(cql)
	if m == nil {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(m[1], "-", "")), true
}

// schema checks that the table's schema.cql, when the backup has one, names the table id
// of the manifest and the object keys.
func (c *checker) schema(ctx context.Context, keyspace, tableDir, id string, nr *NodeResult) error {
	key := c.node.Key(layout.SchemaKey(keyspace, tableDir))
	rc, err := c.storage.Get(ctx, key, storage.Range{})
	if errors.Is(err, storage.ErrNotFound) {
		return nil // Cassandra 3.x snapshots have none
	}
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		nr.fail(key, "download: %s", oneLine(err))
		return nil
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		nr.fail(key, "download: %s", oneLine(err))
		return nil
	}
	if got, ok := SchemaTableID(string(b)); ok && got != strings.ToLower(id) {
		nr.fail(key, "schema.cql names table id %s, the manifest and object keys %s", got, id)
	}
	return nil
}
