package layout

import (
	"encoding/json"
	"fmt"
)

// Topology records which nodes a backup spans (Esop's topology JSON); it is written after
// every node's manifest and commits the whole backup.
type Topology struct {
	// Timestamp is the backup time in milliseconds since the Unix epoch.
	Timestamp int64 `json:"timestamp"`
	// ClusterName is the cluster's name.
	ClusterName string `json:"clusterName"`
	// SchemaVersion is the schema version the backup was taken at.
	SchemaVersion string `json:"schemaVersion"`
	// Topology lists the nodes.
	Topology []Host `json:"topology"`
}

// Host is one node of a topology.
type Host struct {
	// Hostname is the node's host name (the pod name in Kubernetes).
	Hostname string `json:"hostname"`
	// Cluster is the cluster name.
	Cluster string `json:"cluster"`
	// DC is the datacenter.
	DC string `json:"dc"`
	// Rack is the rack.
	Rack string `json:"rack"`
	// NodeID is the Cassandra host id.
	NodeID string `json:"nodeId"`
	// IPAddress is the node's address.
	IPAddress string `json:"ipAddress"`
}

// HostByHostname returns the host with the given host name.
func (t *Topology) HostByHostname(hostname string) (Host, bool) {
	for _, h := range t.Topology {
		if h.Hostname == hostname {
			return h, true
		}
	}
	return Host{}, false
}

// DecodeTopology decodes a topology file and checks that it names a cluster and that its
// timestamp is not negative; hosts are checked where they are used (Node.Validate).
func DecodeTopology(data []byte) (*Topology, error) {
	var t Topology
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("decode topology: %w", err)
	}
	if t.ClusterName == "" {
		return nil, fmt.Errorf("topology: no cluster name")
	}
	if err := ValidateName("cluster", t.ClusterName); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	if t.Timestamp < 0 {
		return nil, fmt.Errorf("topology: negative timestamp %d", t.Timestamp)
	}
	return &t, nil
}
