package api

import "net/http"

// The authorization of the agent's API: a caller needs, in the agent's namespace, the verb
// OperationsVerb(method) on cassandrabackups/operations of the group below (a subresource
// only RBAC knows; the API server serves nothing there), and `get` on the Secret a request
// names. Its ServiceAccount token must be bound to Audience(namespace).
const (
	// OperationsGroup is the API group of the resource the agent authorizes on.
	OperationsGroup = "cassandraoperator.instaclustr.com"
	// OperationsResource is the resource the agent authorizes on.
	OperationsResource = "cassandrabackups"
	// OperationsSubresource is the subresource the agent authorizes on.
	OperationsSubresource = "operations"
	// MaxRequestBytes bounds a request body.
	MaxRequestBytes = 1 << 20
)

// Audience is the token audience the agents of a namespace accept, so a token sent to an
// agent of one namespace is refused by the agents of every other namespace.
func Audience(namespace string) string {
	return "cassandra-backup-agent." + namespace
}

// OperationsVerb is the verb a request with this HTTP method needs: create (POST),
// delete (DELETE), get (anything else: reading operations, /status, /identity, /metrics).
func OperationsVerb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodDelete:
		return "delete"
	}
	return "get"
}
