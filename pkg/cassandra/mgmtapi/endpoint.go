package mgmtapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Keys of an endpoint state as the endpoints resource reports them (gossip application
// states, plus the API's own ENDPOINT_IP, IS_ALIVE, IS_LOCAL, CLUSTER_NAME, PARTITIONER).
const (
	KeyHostID       = "HOST_ID"
	KeyTokens       = "TOKENS"
	KeyDC           = "DC"
	KeyRack         = "RACK"
	KeySchema       = "SCHEMA"
	KeyRelease      = "RELEASE_VERSION"
	KeyStatus       = "STATUS_WITH_PORT"
	KeyStatusLegacy = "STATUS"
	KeyEndpointIP   = "ENDPOINT_IP"
	KeyIsLocal      = "IS_LOCAL"
	KeyClusterName  = "CLUSTER_NAME"
	KeyPartitioner  = "PARTITIONER"
)

// EndpointStates is the body of GET /api/v0/metadata/endpoints.
type EndpointStates struct {
	// Entity holds one map of states per endpoint the node knows.
	Entity []map[string]string `json:"entity"`
}

// Local returns the state of the node the API runs in: the endpoint marked IS_LOCAL, or
// the only endpoint when the API marks none.
func (s EndpointStates) Local() (map[string]string, error) {
	for _, e := range s.Entity {
		if e[KeyIsLocal] == "true" {
			return e, nil
		}
	}
	if len(s.Entity) == 1 {
		return s.Entity[0], nil
	}
	return nil, fmt.Errorf("management api: none of the %d endpoint states is marked %s", len(s.Entity), KeyIsLocal)
}

// local fetches the local endpoint's state and returns the value of key, which must be set.
func (c *Client) local(ctx context.Context, key string) (string, error) {
	var states EndpointStates
	if err := c.Do(ctx, http.MethodGet, PathEndpoints, nil, nil, &states); err != nil {
		return "", err
	}
	e, err := states.Local()
	if err != nil {
		return "", err
	}
	v, ok := e[key]
	if !ok || v == "" {
		return "", fmt.Errorf("management api: the local endpoint state has no %s", key)
	}
	return v, nil
}

// Tokens returns the node's tokens.
func (c *Client) Tokens(ctx context.Context) ([]string, error) {
	v, err := c.local(ctx, KeyTokens)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// HostID returns the node's host id.
func (c *Client) HostID(ctx context.Context) (string, error) { return c.local(ctx, KeyHostID) }

// SchemaVersion returns the node's schema version.
func (c *Client) SchemaVersion(ctx context.Context) (string, error) { return c.local(ctx, KeySchema) }

// ClusterName returns the name of the node's cluster.
func (c *Client) ClusterName(ctx context.Context) (string, error) {
	return c.local(ctx, KeyClusterName)
}

// Partitioner returns the node's partitioner class.
func (c *Client) Partitioner(ctx context.Context) (string, error) {
	return c.local(ctx, KeyPartitioner)
}

// Location returns the node's datacenter and rack.
func (c *Client) Location(ctx context.Context) (dc, rack string, err error) {
	if dc, err = c.local(ctx, KeyDC); err != nil {
		return "", "", err
	}
	if rack, err = c.local(ctx, KeyRack); err != nil {
		return "", "", err
	}
	return dc, rack, nil
}

// OperationMode returns the node's gossip status (NORMAL, LEAVING, …): the first field
// of STATUS_WITH_PORT, or of STATUS on Cassandra 3.x.
func (c *Client) OperationMode(ctx context.Context) (string, error) {
	v, err := c.local(ctx, KeyStatus)
	if err != nil {
		if v, err = c.local(ctx, KeyStatusLegacy); err != nil {
			return "", err
		}
	}
	mode, _, _ := strings.Cut(v, ",")
	return mode, nil
}
