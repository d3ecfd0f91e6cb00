package fakecassandra

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/mgmtapi"
)

// The Management API for Apache Cassandra, the subset pkg/cassandra/mgmtapi uses, served on
// the node's listener next to Jolokia (a cass-operator pod serves it on port 8080). Its
// calls count under the names of the Jolokia operations they correspond to (takeSnapshot,
// clearSnapshot, forceKeyspaceFlush, loadNewSSTables) and go through the hook as requests
// of Type "mgmtapi" with that Operation, so tests inject failures the same way.

func (n *Node) mgmtRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+mgmtapi.PathEndpoints, n.mgmt("", n.mgmtEndpoints))
	mux.HandleFunc("GET "+mgmtapi.PathRelease, n.mgmt("", func(*http.Request) (any, int, string) {
		return n.cfg.Release, 0, ""
	}))
	mux.HandleFunc("GET "+mgmtapi.PathKeyspaces, n.mgmt("", func(*http.Request) (any, int, string) {
		return n.keyspaces(), 0, ""
	}))
	mux.HandleFunc("GET "+mgmtapi.PathTables, n.mgmt("", n.mgmtTables))
	mux.HandleFunc("POST "+mgmtapi.PathFlush, n.mgmt("forceKeyspaceFlush", n.mgmtFlush))
	mux.HandleFunc("POST "+mgmtapi.PathSnapshots, n.mgmt("takeSnapshot", n.mgmtSnapshot))
	mux.HandleFunc("DELETE "+mgmtapi.PathSnapshots, n.mgmt("clearSnapshot", func(r *http.Request) (any, int, string) {
		q := r.URL.Query()
		if len(q["snapshotNames"]) == 0 {
			q["snapshotNames"] = []string{""}
		}
		for _, tag := range q["snapshotNames"] {
			if err := n.clearSnapshot(tag, q["keyspaces"]); err != nil {
				return nil, http.StatusInternalServerError, err.Error()
			}
		}
		return "OK", 0, ""
	}))
	mux.HandleFunc("POST "+mgmtapi.PathRefresh, n.mgmt("loadNewSSTables", n.mgmtRefresh))
	n.replicationRoutes(mux)
}

// mgmt wraps a handler that runs under the node's lock and returns a value (a string is
// sent as text, anything else as JSON) or a status and message.
func (n *Node) mgmt(op string, h func(r *http.Request) (any, int, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		hook := n.hook
		n.mu.Unlock()
		if hook != nil && op != "" {
			if err := hook(jolokia.Request{Type: "mgmtapi", MBean: r.URL.Path, Operation: op}); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		n.mu.Lock()
		if op != "" {
			n.calls[op]++
		}
		v, status, msg := h(r)
		n.mu.Unlock()
		if status != 0 {
			http.Error(w, msg, status)
			return
		}
		if s, ok := v.(string); ok {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, s)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
}

func (n *Node) keyspaces() []string {
	set := map[string]bool{}
	for _, t := range n.tables {
		set[t.ks] = true
	}
	for k := range n.repl { // a keyspace without tables, given a replication
		set[k] = true
	}
	ks := make([]string, 0, len(set))
	for k := range set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// mgmtEndpoints reports this node (IS_LOCAL) and a peer of the same cluster, so a client
// that picked the first endpoint instead of the local one would read the wrong identity.
func (n *Node) mgmtEndpoints(*http.Request) (any, int, string) {
	local := map[string]string{
		mgmtapi.KeyHostID: n.hostID, mgmtapi.KeyTokens: strings.Join(n.tokens, ","),
		mgmtapi.KeyDC: n.cfg.Datacenter, mgmtapi.KeyRack: n.cfg.Rack, mgmtapi.KeySchema: n.schemaVersion(),
		mgmtapi.KeyRelease: n.cfg.Release, mgmtapi.KeyStatus: "NORMAL," + n.tokens[0],
		mgmtapi.KeyIsLocal: "true", mgmtapi.KeyClusterName: n.cfg.ClusterName,
		mgmtapi.KeyPartitioner: "org.apache.cassandra.dht.Murmur3Partitioner", mgmtapi.KeyEndpointIP: "127.0.0.1",
		"IS_ALIVE": "true",
	}
	peer := map[string]string{
		mgmtapi.KeyHostID: "00000000-0000-4000-8000-000000000001", mgmtapi.KeyTokens: "1,2",
		mgmtapi.KeyDC: n.cfg.Datacenter, mgmtapi.KeyRack: "peer-rack", mgmtapi.KeySchema: n.schemaVersion(),
		mgmtapi.KeyRelease: n.cfg.Release, mgmtapi.KeyStatus: "NORMAL,1", mgmtapi.KeyIsLocal: "false",
		mgmtapi.KeyClusterName: n.cfg.ClusterName, mgmtapi.KeyEndpointIP: "198.51.100.1", "IS_ALIVE": "true",
	}
	return mgmtapi.EndpointStates{Entity: []map[string]string{peer, local}}, 0, ""
}

func (n *Node) mgmtTables(r *http.Request) (any, int, string) {
	ks := r.URL.Query().Get("keyspaceName")
	if ks == "" {
		return nil, http.StatusBadRequest, "List tables failed. Non-empty 'keyspaceName' must be provided"
	}
	out := []string{}
	for _, t := range n.tables {
		if t.ks == ks {
			out = append(out, t.name)
		}
	}
	sort.Strings(out)
	return out, 0, ""
}

func (n *Node) mgmtFlush(r *http.Request) (any, int, string) {
	var req mgmtapi.KeyspaceRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Keyspace == "" {
		return nil, http.StatusBadRequest, "keyspace_name must be provided"
	}
	sel, err := n.selectTables(keyspaceEntity(req.Keyspace, req.Tables))
	if err == nil {
		err = n.flush(sel)
	}
	if err != nil {
		return nil, http.StatusInternalServerError, err.Error()
	}
	return "OK", 0, ""
}

func (n *Node) mgmtSnapshot(r *http.Request) (any, int, string) {
	var req mgmtapi.SnapshotRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	if len(req.Keyspaces) > 0 && len(req.KeyspaceTables) > 0 {
		return nil, http.StatusBadRequest, "When specifying keyspace_tables, specifying keyspaces is not allowed"
	}
	entities := append(append([]string(nil), req.Keyspaces...), req.KeyspaceTables...)
	skip := "false"
	if req.SkipFlush {
		skip = "true"
	}
	if err := n.snapshot(req.Name, map[string]string{"skipFlush": skip}, entities); err != nil {
		return nil, http.StatusInternalServerError, err.Error()
	}
	return "OK", 0, ""
}

func (n *Node) mgmtRefresh(r *http.Request) (any, int, string) {
	q := r.URL.Query()
	ks, tn := q.Get("keyspaceName"), q.Get("table")
	if ks == "" || tn == "" {
		return nil, http.StatusBadRequest, "Must provide a keyspace name and a table name"
	}
	sel, err := n.selectTables([]string{ks + "." + tn})
	if err == nil {
		err = n.loadNewSSTables(sel[0])
	}
	if err != nil {
		return nil, http.StatusInternalServerError, err.Error()
	}
	return "OK", 0, ""
}
