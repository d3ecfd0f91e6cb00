package mgmtapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// Paths of the keyspace replication endpoints (KeyspaceOpsResources of the API).
const (
	PathReplication   = "/api/v0/ops/keyspace/replication"
	PathAlterKeyspace = "/api/v0/ops/keyspace/alter"
)

// ReplicationSetting is one datacenter's replication factor in a keyspace create or alter.
type ReplicationSetting struct {
	// Datacenter is the datacenter's name.
	Datacenter string `json:"dc_name"`
	// Factor is its replication factor.
	Factor int `json:"replication_factor"`
}

// AlterKeyspaceRequest is the body of POST /api/v0/ops/keyspace/alter: the keyspace's
// replication becomes NetworkTopologyStrategy with exactly these settings.
type AlterKeyspaceRequest struct {
	// Keyspace is the keyspace to alter.
	Keyspace string `json:"keyspace_name"`
	// Settings are the datacenters and their factors.
	Settings []ReplicationSetting `json:"replication_settings"`
}

var _ cassandra.Replicator = (*Client)(nil)

// KeyspaceReplication returns keyspace's replication (GET …/keyspace/replication): the
// class and the strategy's options, as system_schema.keyspaces holds them.
func (c *Client) KeyspaceReplication(ctx context.Context, keyspace string) (cassandra.Replication, error) {
	var r cassandra.Replication
	if err := c.Do(ctx, http.MethodGet, PathReplication, url.Values{"keyspaceName": {keyspace}}, nil, &r); err != nil {
		return nil, fmt.Errorf("replication of %s: %w", keyspace, err)
	}
	return r, nil
}

// AlterReplication sets keyspace's replication to NetworkTopologyStrategy with factors
// (POST …/keyspace/alter).
func (c *Client) AlterReplication(ctx context.Context, keyspace string, factors map[string]int) error {
	req := AlterKeyspaceRequest{Keyspace: keyspace, Settings: []ReplicationSetting{}}
	for dc, n := range factors {
		req.Settings = append(req.Settings, ReplicationSetting{Datacenter: dc, Factor: n})
	}
	sort.Slice(req.Settings, func(i, j int) bool { return req.Settings[i].Datacenter < req.Settings[j].Datacenter })
	if err := c.Do(ctx, http.MethodPost, PathAlterKeyspace, nil, req, nil); err != nil {
		return fmt.Errorf("alter replication of %s: %w", keyspace, err)
	}
	return nil
}
