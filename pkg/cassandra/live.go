package cassandra

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNoTruncate matches the error of Truncate on a Node whose control cannot truncate.
var ErrNoTruncate = errors.New("this node control cannot truncate tables")

// ErrNoLiveSchema matches the error of LiveTableSchema when the node wrote no schema.cql
// into the snapshot (releases before 3.0 write none).
var ErrNoLiveSchema = errors.New("the node wrote no schema.cql into the snapshot")

// Truncater is implemented by a Node that can truncate a table (StorageService.truncate
// over Jolokia, the Management API's truncate). Cassandra truncates on every node of the
// cluster, so truncating the same table again is harmless.
type Truncater interface {
	// Truncate removes every row of keyspace.table.
	Truncate(ctx context.Context, keyspace, table string) error
}

// Truncate truncates keyspace.table through node; the error wraps ErrNoTruncate when its
// control has no truncate.
func Truncate(ctx context.Context, node Node, keyspace, table string) error {
	t, ok := node.(Truncater)
	if !ok {
		return fmt.Errorf("truncate %s.%s: %w", keyspace, table, ErrNoTruncate)
	}
	return t.Truncate(ctx, keyspace, table)
}

// LiveTableID returns the id of the live table keyspace.table, from the name of its
// directory under the data directories (a snapshot tells which one is live when the table
// was dropped and created again); the error says when the table has no directory.
func LiveTableID(ctx context.Context, node Node, dataDirs []string, keyspace, table string) (string, error) {
	dir, err := liveTableDir(ctx, node, dataDirs, keyspace, table)
	if err != nil {
		return "", err
	}
	_, id, err := ParseTableDir(dir)
	return id, err
}

// LiveTableSchema returns the CREATE statement (with its ALTER statements for dropped
// columns) of the live table keyspace.table, as the node writes it into a snapshot's
// schema.cql: node control offers no other way to read a table's columns on every
// profile (Jolokia has no schema MBean, the Management API no describe). The snapshot
// holds hard links only and is cleared at once.
func LiveTableSchema(ctx context.Context, node Node, dataDirs []string, keyspace, table string) (string, error) {
	dir, err := liveTableDir(ctx, node, dataDirs, keyspace, table)
	if err != nil {
		return "", err
	}
	tag := probeTag()
	if err := node.TakeSnapshot(ctx, tag, Entity{Keyspace: keyspace, Table: table}); err != nil {
		return "", fmt.Errorf("snapshot of %s.%s to read its schema: %w", keyspace, table, err)
	}
	defer node.ClearSnapshot(context.WithoutCancel(ctx), tag, keyspace)
	for _, dd := range dataDirs {
		b, err := os.ReadFile(filepath.Join(dd, keyspace, dir, SnapshotsDir, tag, "schema.cql"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("schema of %s.%s: %w", keyspace, table, err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("schema of %s.%s: %w", keyspace, table, ErrNoLiveSchema)
}
