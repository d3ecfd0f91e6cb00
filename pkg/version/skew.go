package version

import (
	"fmt"
	"net/http"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

// The supported skew: an operator of version X.Y drives agents of X.Y and X.(Y-1), any
// patch. Agents are updated only when their Cassandra pods restart, so after an operator
// upgrade the previous minor release's agents keep running for a while; anything older, or
// newer than the operator, is refused. Builds without a release version ("dev") are not
// checked.
const (
	// AgentHeader is the HTTP response header in which an agent names its version.
	AgentHeader = "Cassandra-Backup-Agent-Version"
	// OldestAgent is the version of an agent that sends no AgentHeader: the agents built
	// before the header existed, which are the first release line.
	OldestAgent = "v0.1.0"
	// MaxAgentSkew is how many minor versions an agent may be older than the operator.
	MaxAgentSkew = 1
)

// AgentVersion returns the version an agent reported in the headers of one of its
// responses; OldestAgent when it reported none.
func AgentVersion(h http.Header) string {
	if v := h.Get(AgentHeader); v != "" {
		return v
	}
	return OldestAgent
}

// SkewError says why an operator refuses an agent of another version.
type SkewError struct {
	Operator, Agent string
	// Newer is true when the agent is newer than the operator.
	Newer bool
}

func (e *SkewError) Error() string {
	if e.Newer {
		return fmt.Sprintf("agent %s is newer than the operator (%s): upgrade the operator first", e.Agent, e.Operator)
	}
	return fmt.Sprintf("agent %s is more than %d minor version older than the operator (%s): restart the Cassandra pods with the current agent image, or use an operator of the agent's release line",
		e.Agent, MaxAgentSkew, e.Operator)
}

// CheckAgent returns nil when an operator of version operator supports an agent of
// version agent (as AgentVersion returns it), a *SkewError when it does not. Versions that
// are not semantic versions (development builds) are always accepted.
func CheckAgent(operator, agent string) error {
	op, err := utilversion.ParseSemantic(operator)
	if err != nil {
		return nil
	}
	ag, err := utilversion.ParseSemantic(agent)
	if err != nil {
		return nil
	}
	switch {
	case ag.Major() != op.Major():
		return &SkewError{Operator: operator, Agent: agent, Newer: ag.Major() > op.Major()}
	case ag.Minor() > op.Minor():
		return &SkewError{Operator: operator, Agent: agent, Newer: true}
	case op.Minor()-ag.Minor() > MaxAgentSkew:
		return &SkewError{Operator: operator, Agent: agent}
	}
	return nil
}

// SupportedAgents describes the agent versions an operator of version operator drives,
// e.g. "v0.2.x and v0.3.x" for v0.3.1; "any" for a development build.
func SupportedAgents(operator string) string {
	op, err := utilversion.ParseSemantic(operator)
	if err != nil {
		return "any"
	}
	oldest := op.Minor()
	if oldest >= MaxAgentSkew {
		oldest -= MaxAgentSkew
	} else {
		oldest = 0
	}
	if oldest == op.Minor() {
		return fmt.Sprintf("v%d.%d.x", op.Major(), op.Minor())
	}
	return fmt.Sprintf("v%d.%d.x to v%d.%d.x", op.Major(), oldest, op.Major(), op.Minor())
}

// AgentHandler adds AgentHeader with this build's version to the responses of next, except
// to callers it refuses (401, 403): an unauthenticated caller learns nothing.
func AgentHandler(next http.Handler) http.Handler {
	v := Get().Version
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&versionWriter{ResponseWriter: w, version: v}, r)
	})
}

type versionWriter struct {
	http.ResponseWriter
	version string
	wrote   bool
}

func (w *versionWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code != http.StatusUnauthorized && code != http.StatusForbidden {
			w.Header().Set(AgentHeader, w.version)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *versionWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *versionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
