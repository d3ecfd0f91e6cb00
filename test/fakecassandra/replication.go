package fakecassandra

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/mgmtapi"
)

// The node's keyspace replication, as system_schema.keyspaces holds it, and the
// Management API's endpoints that read and alter it (KeyspaceOpsResources): GET
// …/keyspace/replication?keyspaceName= answers the map as JSON (400 without a name, 404
// for an unknown keyspace), POST …/keyspace/alter takes {"keyspace_name",
// "replication_settings": [{"dc_name", "replication_factor"}]} and makes the keyspace
// NetworkTopologyStrategy with exactly those factors, answering "OK". Alters count as
// "alterKeyspace" (Calls) and go through the hook.
//
// A keyspace's replication is what SetReplication set; else system and system_schema are
// LocalStrategy and every other keyspace is NetworkTopologyStrategy with a factor of 3 in
// the node's datacenter.

func (n *Node) replicationRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+mgmtapi.PathReplication, n.mgmt("", n.mgmtReplication))
	mux.HandleFunc("POST "+mgmtapi.PathAlterKeyspace, n.mgmt("alterKeyspace", n.mgmtAlterKeyspace))
}

// SetReplication sets keyspace's replication (a copy of r), as a restored schema would
// hold it.
func (n *Node) SetReplication(keyspace string, r cassandra.Replication) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.repl == nil {
		n.repl = map[string]cassandra.Replication{}
	}
	n.repl[keyspace] = maps.Clone(r)
}

// Replication returns keyspace's replication (a copy), nil when the keyspace has no table.
func (n *Node) Replication(keyspace string) cassandra.Replication {
	n.mu.Lock()
	defer n.mu.Unlock()
	return maps.Clone(n.replication(keyspace))
}

func (n *Node) replication(keyspace string) cassandra.Replication {
	if r, ok := n.repl[keyspace]; ok {
		return r
	}
	known := false
	for _, t := range n.tables {
		known = known || t.ks == keyspace
	}
	switch {
	case !known:
		return nil
	case keyspace == "system" || keyspace == "system_schema":
		return cassandra.Replication{cassandra.ReplicationClass: "org.apache.cassandra.locator.LocalStrategy"}
	}
	return cassandra.Replication{cassandra.ReplicationClass: cassandra.NetworkTopologyStrategy, n.cfg.Datacenter: "3"}
}

func (n *Node) mgmtReplication(r *http.Request) (any, int, string) {
	ks := r.URL.Query().Get("keyspaceName")
	if ks == "" {
		return nil, http.StatusBadRequest, "Get keyspace replication failed. Non-empty 'keyspaceName' must be provided"
	}
	repl := n.replication(ks)
	if repl == nil {
		return nil, http.StatusNotFound, fmt.Sprintf("Get keyspace replication failed. Keyspace '%s' does not exist.", ks)
	}
	return repl, 0, ""
}

func (n *Node) mgmtAlterKeyspace(r *http.Request) (any, int, string) {
	var req mgmtapi.AlterKeyspaceRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	if req.Keyspace == "" {
		return nil, http.StatusBadRequest, "Altering Keyspace failed. Non-empty 'keyspace_name' must be provided"
	}
	if len(req.Settings) == 0 {
		return nil, http.StatusBadRequest, "Altering Keyspace failed. 'replication_settings' must be provided"
	}
	if n.replication(req.Keyspace) == nil {
		return nil, http.StatusInternalServerError, fmt.Sprintf("Cannot alter non existing keyspace '%s'.", req.Keyspace)
	}
	repl := cassandra.Replication{cassandra.ReplicationClass: cassandra.NetworkTopologyStrategy}
	for _, s := range req.Settings {
		repl[s.Datacenter] = fmt.Sprint(s.Factor)
	}
	if n.repl == nil {
		n.repl = map[string]cassandra.Replication{}
	}
	n.repl[req.Keyspace] = repl
	return "OK", 0, ""
}
