package agent

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// RestoreStatus is the read-only operations API of the restore init container. The init
// container runs before Cassandra and the agent sidecar start, so the agent's port is
// free: there it serves the restore as the one operation of GET /operations and
// GET /operations/{id}, with its byte and file counts, behind the same Guard as the
// sidecar's API, for the operator to read its progress. Nothing can be submitted or
// cancelled; /healthz answers openly.
type RestoreStatus struct {
	// Guard admits each request but /healthz (KubeAuth in production); nil admits all.
	Guard Guard
	// Request is the restore, as an operation's request.
	Request api.Request
	// Tracker counts the restore's bytes and files.
	Tracker *Tracker

	id    string
	start time.Time
}

// NewRestoreStatus returns the status of a restore starting now.
func NewRestoreStatus(req api.Request, tr *Tracker, guard Guard) *RestoreStatus {
	return &RestoreStatus{Guard: guard, Request: req, Tracker: tr, id: uuid.NewString(), start: time.Now().UTC()}
}

// Operation is the restore as the API shows it: RUNNING, with its counts.
func (s *RestoreStatus) Operation() api.Operation {
	start := s.start
	op := api.Operation{Request: s.Request, ID: s.id, CreationTime: s.start, StartTime: &start,
		State: api.StateRunning, Errors: []api.Error{}, Transfer: s.Tracker.Snapshot()}
	op.Progress = min(op.Transfer.Progress(), 0.99)
	return op
}

// Handler serves GET /operations (one operation; ?type= and ?state= filter it) and
// GET /operations/{id} behind the Guard, and /healthz.
func (s *RestoreStatus) Handler() http.Handler {
	ops := http.NewServeMux()
	ops.HandleFunc("GET /operations", func(w http.ResponseWriter, r *http.Request) {
		op := s.Operation()
		out := []api.Operation{}
		q := r.URL.Query()
		if (!q.Has("type") || contains(q["type"], op.Type)) && (!q.Has("state") || contains(q["state"], string(op.State))) {
			out = append(out, op)
		}
		writeJSON(w, http.StatusOK, out)
	})
	ops.HandleFunc("GET /operations/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != s.id {
			writeError(w, http.StatusNotFound, "operation "+r.PathValue("id")+" not found")
			return
		}
		writeJSON(w, http.StatusOK, s.Operation())
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", (&Server{}).healthz)
	mux.Handle("/", (&Server{Guard: s.Guard}).auth(ops))
	return mux
}
