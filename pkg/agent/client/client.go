// Package client is an HTTP client of the agent's Icarus-compatible operations API: it
// submits, reads, lists and cancels operations on one agent at a time.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// ErrNotFound is returned for an operation the agent does not know (it restarted, or the
// operation expired).
var ErrNotFound = errors.New("operation not found")

// APIError is an answer of the agent other than the expected status.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the agent's message, or the start of the body.
	Message string
	// RetryAfter is the answer's Retry-After (429 from an agent at its operation limit,
	// 503), 0 when it has none.
	RetryAfter time.Duration
}

// Busy reports an agent at its limit of concurrent operations (429 Too Many Requests):
// nothing was started, the request may be sent again after RetryAfter.
func (e *APIError) Busy() bool { return e.Status == http.StatusTooManyRequests }

func (e *APIError) Error() string {
	return fmt.Sprintf("agent answered %d: %s", e.Status, e.Message)
}

// Client talks to agents. Its zero value is usable: default HTTP client, no token.
type Client struct {
	// HTTP sends the requests; nil means a client with a 10s timeout.
	HTTP *http.Client
	// Token, when set, is sent as a bearer token.
	Token string
	// Tokens, when set, gives the bearer token of each request, for the agents of
	// Namespace (see For); it wins over Token.
	Tokens TokenSource
	// Namespace is the namespace of the agents this client talks to.
	Namespace string
}

// For returns a copy of c for the agents of a namespace: their tokens are bound to
// that namespace's audience.
func (c *Client) For(namespace string) *Client {
	var cc Client
	if c != nil {
		cc = *c
	}
	cc.Namespace = namespace
	return &cc
}

var defaultHTTP = &http.Client{Timeout: 10 * time.Second}

func (c *Client) http() *http.Client {
	if c != nil && c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// Submit posts a request to the agent at base (http://host:port) and returns the operation.
func (c *Client) Submit(ctx context.Context, base string, req api.Request) (api.Operation, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return api.Operation{}, fmt.Errorf("encode request: %w", err)
	}
	var op api.Operation
	if err := c.doWith(ctx, http.MethodPost, base+"/operations", req.Headers(), body, http.StatusCreated, &op); err != nil {
		return api.Operation{}, err
	}
	if op.ID == "" {
		return api.Operation{}, fmt.Errorf("POST %s/operations: the answer has no operation id", base)
	}
	return op, nil
}

// Get reads an operation; ErrNotFound when the agent does not know it.
func (c *Client) Get(ctx context.Context, base, id string) (api.Operation, error) {
	var op api.Operation
	err := c.do(ctx, http.MethodGet, base+"/operations/"+url.PathEscape(id), nil, http.StatusOK, &op)
	return op, err
}

// List returns the agent's operations of a type (all types when empty).
func (c *Client) List(ctx context.Context, base, typ string) ([]api.Operation, error) {
	u := base + "/operations"
	if typ != "" {
		u += "?type=" + url.QueryEscape(typ)
	}
	var ops []api.Operation
	err := c.do(ctx, http.MethodGet, u, nil, http.StatusOK, &ops)
	return ops, err
}

// Cancel asks the agent to stop an operation; ErrNotFound when it does not know it.
func (c *Client) Cancel(ctx context.Context, base, id string) error {
	return c.do(ctx, http.MethodDelete, base+"/operations/"+url.PathEscape(id), nil, http.StatusAccepted, nil)
}

func (c *Client) do(ctx context.Context, method, u string, body []byte, want int, out any) error {
	return c.doWith(ctx, method, u, nil, body, want, out)
}

// doWith is do with extra request headers.
func (c *Client) doWith(ctx context.Context, method, u string, hdr http.Header, body []byte, want int, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	tok, err := c.token(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return err // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, u, err)
	}
	if resp.StatusCode == http.StatusNotFound && method != http.MethodPost {
		return fmt.Errorf("%s %s: %w", method, u, ErrNotFound)
	}
	if resp.StatusCode != want {
		var msg struct {
			Message string `json:"message"`
		}
		text := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &msg) == nil && msg.Message != "" {
			text = msg.Message
		}
		if len(text) > 512 {
			text = text[:512]
		}
		return fmt.Errorf("%s %s: %w", method, u, &APIError{Status: resp.StatusCode, Message: text, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))})
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, u, err)
		}
	}
	return nil
}

// retryAfter parses a Retry-After header in seconds (the agent's form); 0 otherwise.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(min(n, 3600)) * time.Second
}

// ErrNoIdentity is returned by Identity for an agent that has no identity endpoint (an
// Icarus sidecar, or an agent older than the endpoint).
var ErrNoIdentity = errors.New("the agent has no identity API (GET /identity answered 404): the operator drives cassandra-backup-agent sidecars only, not Icarus")

// Identity asks the agent at base who its node is.
func (c *Client) Identity(ctx context.Context, base string) (api.Identity, error) {
	var id api.Identity
	err := c.do(ctx, http.MethodGet, base+"/identity", nil, http.StatusOK, &id)
	if errors.Is(err, ErrNotFound) {
		return id, fmt.Errorf("GET %s/identity: %w", base, ErrNoIdentity)
	}
	if err == nil && id.HostID == "" {
		err = fmt.Errorf("GET %s/identity: the answer has no host id", base)
	}
	return id, err
}
