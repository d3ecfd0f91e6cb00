package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// Keyspaces returns the node's keyspaces with their replication.
func (c *Client) Keyspaces(ctx context.Context, base string) ([]api.Keyspace, error) {
	var out []api.Keyspace
	err := c.do(ctx, http.MethodGet, base+api.KeyspacesPath, nil, http.StatusOK, &out)
	return out, err
}

// AlterReplication sets keyspace's replication to NetworkTopologyStrategy with factors.
func (c *Client) AlterReplication(ctx context.Context, base, keyspace string, factors map[string]int) error {
	body, err := json.Marshal(api.AlterReplication{Factors: factors})
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, base+api.ReplicationPath(keyspace), body, http.StatusNoContent, nil)
}
