package agent

import (
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// maxSchemaBytes bounds the schema.cql read from storage.
const maxSchemaBytes = 1 << 20

// checkSchema refuses a live restore of table t when the columns of the node's table
// (its name, type, kind, key position and clustering order, and its dropped columns)
// differ from those of the backed-up table: an ALTER TABLE keeps the table id, so the id
// check cannot see it. A backup without a schema.cql (Esop's, a pre-3.0 node's) and a node
// that writes none into its snapshots are checked by id only, which the log says.
func (a *Agent) checkSchema(ctx context.Context, p storage.Provider, node layout.Node, dataDirs []string, t cassandra.Table) error {
	logger := klog.FromContext(ctx).WithValues("table", t.Keyspace+"."+t.Name)
	backup, err := readSchema(ctx, p, node.Key(layout.SchemaKey(t.Keyspace, t.DirName())))
	if errors.Is(err, storage.ErrNotFound) {
		logger.Info("The backup holds no schema of the table: checked by table id only")
		return nil
	}
	if err != nil {
		return err
	}
	live, err := cassandra.LiveTableSchema(ctx, a.Node, dataDirs, t.Keyspace, t.Name)
	if errors.Is(err, cassandra.ErrNoLiveSchema) {
		logger.Info("The node wrote no schema.cql: checked by table id only")
		return nil
	}
	if err != nil {
		return fmt.Errorf("table %s.%s: %w", t.Keyspace, t.Name, err)
	}
	bs, err := cassandra.ParseTableSchema(backup)
	if err != nil {
		return fmt.Errorf("table %s.%s: the backup's schema.cql: %w", t.Keyspace, t.Name, err)
	}
	ls, err := cassandra.ParseTableSchema(live)
	if err != nil {
		return fmt.Errorf("table %s.%s: the node's schema: %w", t.Keyspace, t.Name, err)
	}
	if d := bs.Diff(ls); d != "" {
		return fmt.Errorf("%stable %s.%s: %s (an ALTER TABLE since the backup): refusing to restore into it", api.SchemaMismatchPrefix, t.Keyspace, t.Name, d)
	}
	return nil
}

// readSchema reads a schema.cql object.
func readSchema(ctx context.Context, p storage.Provider, key string) (string, error) {
	r, err := p.Get(ctx, key, storage.Range{})
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxSchemaBytes+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	if len(b) > maxSchemaBytes {
		return "", fmt.Errorf("read %s: larger than %d bytes", key, maxSchemaBytes)
	}
	return string(b), nil
}
