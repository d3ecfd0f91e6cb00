package cassandra

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoTruncate matches the error of Truncate on a Node whose control cannot truncate.
var ErrNoTruncate = errors.New("this node control cannot truncate tables")

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
