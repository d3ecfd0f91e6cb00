// Package mgmtapi is the agent's node control over the Management API for Apache
// Cassandra (the REST API in the cassandra container of cass-operator and K8ssandra pods):
// a cassandra.Node that flushes, snapshots, reads the node's identity from its endpoint
// state and refreshes tables. The API has no import endpoint, so a restore into a running
// node places files in the table directory and refreshes (cassandra.LoadSSTables does that
// for a Node that cannot import). Only the agent and the tests' fake node import it.
package mgmtapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// Paths of the Management API endpoints the client uses (its OpenAPI description, v0).
const (
	PathEndpoints = "/api/v0/metadata/endpoints"
	PathRelease   = "/api/v0/metadata/versions/release"
	PathKeyspaces = "/api/v0/ops/keyspace"
	PathTables    = "/api/v0/ops/tables"
	PathFlush     = "/api/v0/ops/tables/flush"
	PathSnapshots = "/api/v0/ops/node/snapshots"
	PathRefresh   = "/api/v0/ops/keyspace/refresh"
)

// DefaultURL is where the Management API listens in a cass-operator pod's cassandra container.
const DefaultURL = "http://127.0.0.1:8080"

// Client is a cassandra.Node reached through the Management API.
type Client struct {
	// URL is the API's base URL: http://host:port, https://host:port, or unix:///path/to.sock.
	URL string
	// Client sends the requests (its Transport is replaced for a unix:// URL); nil means a
	// client with no timeout of its own: the caller's context bounds each call.
	Client *http.Client
	// DataDirectories are the node's data file locations; the API does not report them.
	DataDirectories []string
	// UserAgent, when set, names the caller in the User-Agent header.
	UserAgent string

	once sync.Once
	base string
	hc   *http.Client
}

var _ cassandra.Node = (*Client)(nil)

// Error is a request the Management API answered with a failure status.
type Error struct {
	// Method and Path name the request.
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// Message is the response body, truncated.
	Message string
}

// Error returns the request, the status and the API's message.
func (e *Error) Error() string {
	return fmt.Sprintf("management api %s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// Is makes an Error match cassandra.ErrRefused when the node answered: every status but
// those a proxy or an overloaded server gives (502, 503, 504), whose outcome is unknown.
func (e *Error) Is(target error) bool {
	if target != cassandra.ErrRefused {
		return false
	}
	switch e.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return false
	}
	return true
}

// setup resolves the base URL and the HTTP client once.
func (c *Client) setup() {
	c.once.Do(func() {
		c.hc = c.Client
		if c.hc == nil {
			c.hc = &http.Client{}
		}
		c.base = strings.TrimRight(c.URL, "/")
		if sock, ok := strings.CutPrefix(c.URL, "unix://"); ok {
			hc := *c.hc
			hc.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			}}
			c.hc, c.base = &hc, "http://localhost"
		}
	})
}

// Do sends one request; a JSON body is encoded from in (when not nil), and the response
// body is decoded into out: JSON, or the text itself when out is a *string.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	c.setup()
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("management api %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("management api %s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Message: msg}
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *string:
		*o = strings.TrimSpace(string(data))
		return nil
	default:
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("management api %s %s: decode response: %w", method, path, err)
		}
		return nil
	}
}

// CanImport reports false: the Management API has no import endpoint.
func (c *Client) CanImport() bool { return false }

// ImportSSTables fails with cassandra.ErrNoImport: the Management API cannot import.
func (c *Client) ImportSSTables(context.Context, string, string, []string) ([]string, error) {
	return nil, fmt.Errorf("management api: %w", cassandra.ErrNoImport)
}

// LoadNewSSTables makes keyspace.table load the SSTables placed in its directories (refresh).
func (c *Client) LoadNewSSTables(ctx context.Context, keyspace, table string) error {
	q := url.Values{"keyspaceName": {keyspace}, "table": {table}}
	if err := c.Do(ctx, http.MethodPost, PathRefresh, q, nil, nil); err != nil {
		return fmt.Errorf("refresh %s.%s: %w", keyspace, table, err)
	}
	return nil
}

// The Management API has no table truncate (its OpenAPI description lists only
// /api/v0/ops/node/hints/truncate, which truncates hints): Client does not implement
// cassandra.Truncater, so cassandra.Truncate reports ErrNoTruncate on these nodes.

// DataDirs returns the configured data directories.
func (c *Client) DataDirs(context.Context) ([]string, error) {
	if len(c.DataDirectories) == 0 {
		return nil, errors.New("management api: the data directories are not configured (the API does not report them)")
	}
	return append([]string(nil), c.DataDirectories...), nil
}
