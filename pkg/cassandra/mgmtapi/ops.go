package mgmtapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// KeyspaceRequest is the body of the flush endpoint.
type KeyspaceRequest struct {
	// Keyspace is the keyspace to flush.
	Keyspace string `json:"keyspace_name"`
	// Tables are the tables to flush; empty means all of the keyspace's.
	Tables []string `json:"tables"`
	// Jobs is the number of concurrent jobs; 0 lets the node decide.
	Jobs int `json:"jobs"`
}

// SnapshotRequest is the body of POST /api/v0/ops/node/snapshots. Keyspaces and
// KeyspaceTables exclude each other; neither means every keyspace.
type SnapshotRequest struct {
	// Name is the snapshot tag.
	Name string `json:"snapshot_name"`
	// Keyspaces are whole keyspaces to snapshot.
	Keyspaces []string `json:"keyspaces,omitempty"`
	// KeyspaceTables are keyspace.table names to snapshot.
	KeyspaceTables []string `json:"keyspace_tables,omitempty"`
	// SkipFlush skips the flush before the snapshot.
	SkipFlush bool `json:"skip_flush"`
}

// Flush writes the memtables of keyspace (the named tables, or all) to SSTables.
func (c *Client) Flush(ctx context.Context, keyspace string, tables ...string) error {
	if tables == nil {
		tables = []string{}
	}
	if err := c.Do(ctx, http.MethodPost, PathFlush, nil, KeyspaceRequest{Keyspace: keyspace, Tables: tables}, nil); err != nil {
		return fmt.Errorf("flush %s: %w", keyspace, err)
	}
	return nil
}

// TakeSnapshot flushes and snapshots entities (all keyspaces when none) under tag. The API
// takes either keyspaces or keyspace.table names, so when entities mix both, the whole
// keyspaces are expanded into their tables first.
func (c *Client) TakeSnapshot(ctx context.Context, tag string, entities ...cassandra.Entity) error {
	req := SnapshotRequest{Name: tag}
	mixed := false
	for _, e := range entities {
		mixed = mixed || e.Table != ""
	}
	for _, e := range entities {
		switch {
		case !mixed:
			req.Keyspaces = append(req.Keyspaces, e.Keyspace)
		case e.Table != "":
			req.KeyspaceTables = append(req.KeyspaceTables, e.String())
		default:
			tables, err := c.Tables(ctx, e.Keyspace)
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", tag, err)
			}
			for _, t := range tables {
				req.KeyspaceTables = append(req.KeyspaceTables, e.Keyspace+"."+t)
			}
		}
	}
	if err := c.Do(ctx, http.MethodPost, PathSnapshots, nil, req, nil); err != nil {
		return fmt.Errorf("snapshot %s: %w", tag, err)
	}
	return nil
}

// ClearSnapshot removes snapshot tag from keyspaces (all keyspaces when none).
func (c *Client) ClearSnapshot(ctx context.Context, tag string, keyspaces ...string) error {
	q := url.Values{"snapshotNames": {tag}}
	if len(keyspaces) > 0 {
		q["keyspaces"] = keyspaces
	}
	if err := c.Do(ctx, http.MethodDelete, PathSnapshots, q, nil, nil); err != nil {
		return fmt.Errorf("clear snapshot %s: %w", tag, err)
	}
	return nil
}

// Keyspaces returns all keyspace names.
func (c *Client) Keyspaces(ctx context.Context) ([]string, error) {
	var ks []string
	if err := c.Do(ctx, http.MethodGet, PathKeyspaces, nil, nil, &ks); err != nil {
		return nil, err
	}
	return ks, nil
}

// Tables returns the table names of keyspace.
func (c *Client) Tables(ctx context.Context, keyspace string) ([]string, error) {
	var ts []string
	if err := c.Do(ctx, http.MethodGet, PathTables, url.Values{"keyspaceName": {keyspace}}, nil, &ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// ReleaseVersion returns the node's Cassandra release, e.g. 4.1.5.
func (c *Client) ReleaseVersion(ctx context.Context) (string, error) {
	var s string
	if err := c.Do(ctx, http.MethodGet, PathRelease, nil, nil, &s); err != nil {
		return "", err
	}
	return strings.Trim(s, `"`), nil
}
