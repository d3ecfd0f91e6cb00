package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// The routes of the keyspace endpoints (api.KeyspacesPath).
var (
	routeKeyspaces        = "GET " + api.KeyspacesPath
	routeAlterReplication = "POST " + api.ReplicationPath("{keyspace}")
)

// keyspaceTimeout bounds one keyspace call through node control: a schema change waits
// for the node to apply it.
const keyspaceTimeout = 30 * time.Second

// keyspaces answers the node's keyspaces with their replication (api.Keyspace).
func (s *Server) keyspaces(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), keyspaceTimeout)
	defer cancel()
	names, err := s.Agent.Node.Keyspaces(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "list keyspaces: "+err.Error())
		return
	}
	out := make([]api.Keyspace, 0, len(names))
	for _, ks := range names {
		repl, err := cassandra.KeyspaceReplication(ctx, s.Agent.Node, ks)
		if err != nil {
			writeError(w, keyspaceStatus(err), err.Error())
			return
		}
		out = append(out, api.Keyspace{Name: ks, Replication: repl})
	}
	writeJSON(w, http.StatusOK, out)
}

// alterReplication sets one keyspace's replication (api.AlterReplication).
func (s *Server) alterReplication(w http.ResponseWriter, r *http.Request) {
	ks := r.PathValue("keyspace")
	var req api.AlterReplication
	data, err := io.ReadAll(io.LimitReader(r.Body, api.MaxRequestBytes))
	if err == nil {
		err = json.Unmarshal(data, &req)
	}
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, "malformed request: "+err.Error())
		return
	case !cassandra.ValidName(ks):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("keyspace %q is not a keyspace name", ks))
		return
	case len(req.Factors) == 0:
		writeError(w, http.StatusBadRequest, "field factors: at least one datacenter is required")
		return
	}
	for dc, n := range req.Factors {
		if dc == "" || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("field factors: %q: %d is not a datacenter and a replication factor", dc, n))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), keyspaceTimeout)
	defer cancel()
	if err := cassandra.AlterReplication(ctx, s.Agent.Node, ks, req.Factors); err != nil {
		writeError(w, keyspaceStatus(err), err.Error())
		return
	}
	klog.FromContext(r.Context()).Info("Keyspace replication altered", "keyspace", ks, "replication", cassandra.FormatFactors(req.Factors))
	w.WriteHeader(http.StatusNoContent)
}

// keyspaceStatus is the answer's status for a failed keyspace call.
func keyspaceStatus(err error) int {
	switch {
	case errors.Is(err, cassandra.ErrNoReplication):
		return http.StatusNotImplemented
	case errors.Is(err, cassandra.ErrRefused):
		return http.StatusUnprocessableEntity
	}
	return http.StatusServiceUnavailable
}
