package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// Server is the Icarus-compatible operations API of an Agent.
type Server struct {
	// Agent runs the operations.
	Agent *Agent
	// Guard admits each request except the probes (KubeAuth in production); nil admits
	// every request.
	Guard Guard
	// TTL is how long finished operations are kept; 0 means an hour, as in Icarus.
	TTL time.Duration
	// MaxOperations caps the operations pending or running at once (DefaultMaxOperations
	// when 0); beyond it a submission is refused with 429 and Retry-After (limit.go).
	MaxOperations int
	// RetryAfter is the Retry-After of that refusal; DefaultRetryAfter when 0.
	RetryAfter time.Duration

	ctx context.Context
	mu  sync.Mutex
	ops map[string]*op
	wg  sync.WaitGroup

	slotsOnce sync.Once
	slots     chan struct{}
}

type op struct {
	api.Operation
	tracker   *Tracker
	cancel    context.CancelFunc
	cancelled bool
	done      chan struct{}
}

// NewServer returns a server whose operations run under ctx (cancel it to stop them all).
func NewServer(ctx context.Context, a *Agent) *Server {
	return &Server{Agent: a, ctx: ctx, ops: map[string]*op{}}
}

// Handler returns the API's HTTP handler: the probes /healthz and /readyz, open to all
// and revealing nothing, and behind the Guard every other endpoint: the operations,
// /status and /identity.
func (s *Server) Handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /operations", s.submit)
	api.HandleFunc("GET /operations", s.list)
	api.HandleFunc("GET /operations/{id}", s.get)
	api.HandleFunc("DELETE /operations/{id}", s.cancel)
	api.HandleFunc("GET /status", s.status)
	api.HandleFunc("GET /identity", s.identity)
	api.HandleFunc(routeKeyspaces, s.keyspaces)
	api.HandleFunc(routeAlterReplication, s.alterReplication)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/", s.auth(api))
	return mux
}

// healthz answers for the agent's own process: it serves, whatever the node does.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

// readyz answers whether the node is reachable through node control; the answer names
// no node detail (the probes are unauthenticated).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if _, err := s.Agent.Node.OperationMode(ctx); err != nil {
		klog.FromContext(r.Context()).V(2).Info("Not ready: node unreachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "node control unreachable")
		return
	}
	io.WriteString(w, "ok")
}

// identity answers who the node is.
func (s *Server) identity(w http.ResponseWriter, r *http.Request) {
	id, err := s.Agent.Identity(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "node identity: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, id)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"code": code, "message": msg})
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	req, err := api.DecodeRequest(r.Body)
	if err == nil {
		err = req.ReadHeaders(r.Header)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	o, err := s.Submit(req)
	var busy *BusyError
	if errors.As(err, &busy) {
		writeBusy(w, busy)
		return
	}
	w.Header().Set("Location", "/operations/"+o.ID)
	writeJSON(w, http.StatusCreated, o)
}

// Submit starts an operation and returns it as submitted; a *BusyError when
// MaxOperations are pending or running. A request with the Key of an operation the agent
// knows returns that operation instead (see api.Request.Key).
func (s *Server) Submit(req api.Request) (api.Operation, error) {
	if o, ok := s.byKey(req.Key); ok {
		return o, nil
	}
	if err := s.acquire(); err != nil {
		return api.Operation{}, err
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	octx, cancel := context.WithTimeout(ctx, req.TimeLimit())
	o := &op{
		Operation: api.Operation{Request: req, ID: uuid.NewString(), CreationTime: time.Now().UTC(), State: api.StatePending, Errors: []api.Error{}},
		tracker:   s.Agent.Metrics.Tracker(req.Type, req.StorageLocation),
		cancel:    cancel,
		done:      make(chan struct{}),
	}
	s.mu.Lock()
	if s.ops == nil {
		s.ops = map[string]*op{}
	}
	s.ops[o.ID] = o
	view := o.view()
	s.mu.Unlock()
	s.wg.Add(1)
	go s.run(octx, o)
	return view, nil
}

func (s *Server) run(ctx context.Context, o *op) {
	defer s.wg.Done()
	defer close(o.done)
	defer o.cancel()
	logger := klog.FromContext(ctx).WithValues("operation", o.ID, "type", o.Type)
	ctx = klog.NewContext(ctx, logger)
	s.mu.Lock()
	start := time.Now().UTC()
	o.State, o.StartTime = api.StateRunning, &start
	req := o.Request
	s.mu.Unlock()
	ended := s.Agent.Metrics.started(req.Type)
	defer func() { ended(o.state(&s.mu), time.Since(start)) }()
	defer o.tracker.LogProgress(ctx, nil, "Operation progress")()

	var err error
	switch req.Type {
	case api.TypeBackup:
		err = s.Agent.Backup(ctx, req, o.tracker)
	case api.TypeRestore:
		err = s.Agent.RestoreLive(ctx, req, o.ID, o.tracker)
	default:
		err = fmt.Errorf("unknown operation type %q", req.Type)
	}
	s.release() // before the final state shows: who sees it ended may submit again

	s.mu.Lock()
	defer s.mu.Unlock()
	end := time.Now().UTC()
	o.CompletionTime = &end
	switch {
	case o.cancelled:
		o.State = api.StateCancelled
	case err != nil:
		o.State = api.StateFailed
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("operation exceeded its timeout of %s: %w", req.TimeLimit(), err)
		}
		o.Errors = append(o.Errors, api.Error{Source: s.Agent.Hostname, Message: err.Error()})
		logger.Info("Operation failed", "err", err)
	default:
		o.State = api.StateCompleted
	}
}

// state returns o's state under mu.
func (o *op) state(mu *sync.Mutex) api.State {
	mu.Lock()
	defer mu.Unlock()
	return o.State
}

// view returns the API form of o; the caller holds s.mu.
func (o *op) view() api.Operation {
	v := o.Operation
	v.Errors = append([]api.Error{}, o.Errors...)
	v.Transfer = o.tracker.Snapshot()
	v.HostID, v.SchemaVersion = o.tracker.Node()
	v.Progress = v.Transfer.Progress()
	switch {
	case v.State == api.StateCompleted:
		v.Progress = 1
	case v.Progress >= 1:
		v.Progress = 0.99
	}
	return v
}

// expire drops finished operations older than the TTL; the caller holds s.mu.
func (s *Server) expire() {
	ttl := s.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	for id, o := range s.ops {
		if o.CompletionTime != nil && time.Since(*o.CompletionTime) > ttl {
			delete(s.ops, id)
		}
	}
}

// byKey returns the operation submitted with key, if any (never for an empty key).
func (s *Server) byKey(key string) (api.Operation, bool) {
	if key == "" {
		return api.Operation{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.ops {
		if o.Key == key {
			return o.view(), true
		}
	}
	return api.Operation{}, false
}

// Get returns an operation by id.
func (s *Server) Get(id string) (api.Operation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	o, ok := s.ops[id]
	if !ok {
		return api.Operation{}, false
	}
	return o.view(), true
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	o, ok := s.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "operation "+r.PathValue("id")+" not found")
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "type" && k != "state" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("query parameter %s: want type or state", k))
			return
		}
	}
	types, states := q["type"], q["state"]
	for _, st := range states {
		switch api.State(st) {
		case api.StatePending, api.StateRunning, api.StateCompleted, api.StateCancelled, api.StateFailed:
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("query parameter state: %q is not PENDING, RUNNING, COMPLETED, CANCELLED or FAILED", st))
			return
		}
	}
	s.mu.Lock()
	s.expire()
	out := []api.Operation{}
	for _, o := range s.ops {
		if (len(types) == 0 || contains(types, o.Type)) && (len(states) == 0 || contains(states, string(o.State))) {
			out = append(out, o.view())
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].CreationTime.Before(out[j].CreationTime) })
	writeJSON(w, http.StatusOK, out)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Cancel stops an operation; it reports false when the id is unknown.
func (s *Server) Cancel(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.ops[id]
	if !ok {
		return false
	}
	if !o.State.Final() {
		o.cancelled = true
		o.cancel()
	}
	return true
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	if !s.Cancel(r.PathValue("id")) {
		writeError(w, http.StatusNotFound, "operation "+r.PathValue("id")+" not found")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	mode, err := s.Agent.Node.OperationMode(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "node state: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"nodeState": mode})
}

// Wait blocks until every running operation has ended.
func (s *Server) Wait() { s.wg.Wait() }
