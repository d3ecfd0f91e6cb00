// Package jolokia is the agent's node control over Jolokia (JMX over HTTP JSON): a
// cassandra.Node that flushes, snapshots, reads tokens, host id and schema version, and
// loads or imports SSTables. Only the agent (and the tests' fake node) import it; the
// operator links none of it.
package jolokia

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
)

// MBean and operation names of Cassandra's JMX interface, as Jolokia addresses them.
const (
	// StorageServiceMBean is the object name of StorageServiceMBean.
	StorageServiceMBean = "org.apache.cassandra.db:type=StorageService"
	// EndpointSnitchMBean is the object name of EndpointSnitchInfoMBean.
	EndpointSnitchMBean = "org.apache.cassandra.db:type=EndpointSnitchInfo"

	// OpTakeSnapshot is StorageServiceMBean.takeSnapshot(String tag, Map options, String... entities).
	OpTakeSnapshot = "takeSnapshot(java.lang.String,java.util.Map,[Ljava.lang.String;)"
	// OpClearSnapshot is StorageServiceMBean.clearSnapshot(String tag, String... keyspaceNames).
	OpClearSnapshot = "clearSnapshot(java.lang.String,[Ljava.lang.String;)"
	// OpForceKeyspaceFlush is StorageServiceMBean.forceKeyspaceFlush(String keyspace, String... tables).
	OpForceKeyspaceFlush = "forceKeyspaceFlush(java.lang.String,[Ljava.lang.String;)"
	// OpImportNewSSTables is ColumnFamilyStoreMBean.importNewSSTables(Set srcPaths, resetLevel,
	// clearRepaired, verifySSTables, verifyTokens, invalidateCaches, extendedVerify) (Cassandra 4.0+).
	OpImportNewSSTables = "importNewSSTables(java.util.Set,boolean,boolean,boolean,boolean,boolean,boolean)"
	// OpLoadNewSSTables is StorageServiceMBean.loadNewSSTables(String keyspace, String table)
	// (nodetool refresh): it loads SSTables that appeared in the table's live directories.
	OpLoadNewSSTables = "loadNewSSTables(java.lang.String,java.lang.String)"
	// OpTruncate is StorageServiceMBean.truncate(String keyspace, String table): a
	// cluster-wide TRUNCATE of the table.
	OpTruncate = "truncate(java.lang.String,java.lang.String)"
)

// TableMBean returns the object name of the ColumnFamilyStoreMBean of keyspace.table (Cassandra 4.0+).
func TableMBean(keyspace, table string) string {
	return "org.apache.cassandra.db:type=Tables,keyspace=" + keyspace + ",table=" + table
}

// Request is one Jolokia request (protocol version 7, POST form).
type Request struct {
	// Type is read, write or exec.
	Type string `json:"type"`
	// MBean is the MBean's object name.
	MBean string `json:"mbean"`
	// Attribute names the attribute of a read request.
	Attribute string `json:"attribute,omitempty"`
	// Operation names the operation of an exec request, with its signature when overloaded.
	Operation string `json:"operation,omitempty"`
	// Arguments are the arguments of an exec request.
	Arguments []any `json:"arguments,omitempty"`
}

// Response is Jolokia's answer to one request.
type Response struct {
	// Request echoes the request.
	Request json.RawMessage `json:"request,omitempty"`
	// Value is the attribute value or operation result.
	Value json.RawMessage `json:"value,omitempty"`
	// Timestamp is the server time in seconds.
	Timestamp int64 `json:"timestamp,omitempty"`
	// Status is 200 on success, otherwise an HTTP-like error code.
	Status int `json:"status"`
	// ErrorType is the Java exception class on failure.
	ErrorType string `json:"error_type,omitempty"`
	// Error is the exception message on failure.
	Error string `json:"error,omitempty"`
}

// Client is a cassandra.Node reached through a Jolokia agent (JMX over HTTP JSON).
type Client struct {
	// URL is the agent's endpoint, e.g. http://127.0.0.1:8778/jolokia/.
	URL string
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// Username and Password are sent as HTTP basic authentication when Username is set.
	Username, Password string
	// UserAgent, when set, names the caller in the User-Agent header.
	UserAgent string
}

var _ cassandra.Node = (*Client)(nil)

// Error is a failed Jolokia request.
type Error struct {
	// Status is Jolokia's status code.
	Status int
	// Type is the Java exception class.
	Type string
	// Message is the exception message.
	Message string
}

// Error returns the exception class and message.
func (e *Error) Error() string {
	return fmt.Sprintf("jolokia status %d: %s: %s", e.Status, e.Type, e.Message)
}

// Is makes every Error match cassandra.ErrRefused: Jolokia answered, the node refused.
func (e *Error) Is(target error) bool { return target == cassandra.ErrRefused }

// Do sends one request and decodes its value into out (when out is not nil).
func (j *Client) Do(ctx context.Context, req Request, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	if j.UserAgent != "" {
		hreq.Header.Set("User-Agent", j.UserAgent)
	}
	if j.Username != "" {
		hreq.SetBasicAuth(j.Username, j.Password)
	}
	c := j.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("http %s: %s", resp.Status, strings.TrimSpace(string(truncate(data, 512))))
	}
	var jr Response
	if err := json.Unmarshal(data, &jr); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	if jr.Status != http.StatusOK {
		return &Error{Status: jr.Status, Type: jr.ErrorType, Message: jr.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(jr.Value, out); err != nil {
		return fmt.Errorf("decode value: %w", err)
	}
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func (j *Client) read(ctx context.Context, mbean, attr string, out any) error {
	if err := j.Do(ctx, Request{Type: "read", MBean: mbean, Attribute: attr}, out); err != nil {
		return fmt.Errorf("read %s: %w", attr, err)
	}
	return nil
}

func (j *Client) exec(ctx context.Context, mbean, op string, out any, args ...any) error {
	if args == nil {
		args = []any{}
	}
	if err := j.Do(ctx, Request{Type: "exec", MBean: mbean, Operation: op, Arguments: args}, out); err != nil {
		name, _, _ := strings.Cut(op, "(")
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Flush writes the memtables of keyspace (the named tables, or all) to SSTables.
func (j *Client) Flush(ctx context.Context, keyspace string, tables ...string) error {
	return j.exec(ctx, StorageServiceMBean, OpForceKeyspaceFlush, nil, keyspace, nonNil(tables))
}

// TakeSnapshot flushes and snapshots entities (all keyspaces when none) under tag.
func (j *Client) TakeSnapshot(ctx context.Context, tag string, entities ...cassandra.Entity) error {
	names := make([]string, len(entities))
	for i, e := range entities {
		names[i] = e.String()
	}
	return j.exec(ctx, StorageServiceMBean, OpTakeSnapshot, nil, tag, map[string]string{"skipFlush": "false"}, names)
}

// ClearSnapshot removes snapshot tag from keyspaces (all keyspaces when none).
func (j *Client) ClearSnapshot(ctx context.Context, tag string, keyspaces ...string) error {
	return j.exec(ctx, StorageServiceMBean, OpClearSnapshot, nil, tag, nonNil(keyspaces))
}

// Tokens returns the node's tokens (StorageService attribute Tokens).
func (j *Client) Tokens(ctx context.Context) ([]string, error) {
	var t []string
	return t, j.read(ctx, StorageServiceMBean, "Tokens", &t)
}

// HostID returns the node's host id (StorageService attribute LocalHostId).
func (j *Client) HostID(ctx context.Context) (string, error) {
	var s string
	return s, j.read(ctx, StorageServiceMBean, "LocalHostId", &s)
}

// SchemaVersion returns the node's schema version (StorageService attribute SchemaVersion).
func (j *Client) SchemaVersion(ctx context.Context) (string, error) {
	var s string
	return s, j.read(ctx, StorageServiceMBean, "SchemaVersion", &s)
}

// ClusterName returns the cluster name (StorageService attribute ClusterName).
func (j *Client) ClusterName(ctx context.Context) (string, error) {
	var s string
	return s, j.read(ctx, StorageServiceMBean, "ClusterName", &s)
}

// Location returns the node's datacenter and rack (EndpointSnitchInfo attributes).
func (j *Client) Location(ctx context.Context) (dc, rack string, err error) {
	if err := j.read(ctx, EndpointSnitchMBean, "Datacenter", &dc); err != nil {
		return "", "", err
	}
	if err := j.read(ctx, EndpointSnitchMBean, "Rack", &rack); err != nil {
		return "", "", err
	}
	return dc, rack, nil
}

// OperationMode returns the node's operation mode (StorageService attribute OperationMode).
func (j *Client) OperationMode(ctx context.Context) (string, error) {
	var s string
	return s, j.read(ctx, StorageServiceMBean, "OperationMode", &s)
}

// Keyspaces returns all keyspace names (StorageService attribute Keyspaces).
func (j *Client) Keyspaces(ctx context.Context) ([]string, error) {
	var s []string
	return s, j.read(ctx, StorageServiceMBean, "Keyspaces", &s)
}

// DataDirs returns the data file locations (StorageService attribute AllDataFileLocations).
func (j *Client) DataDirs(ctx context.Context) ([]string, error) {
	var s []string
	return s, j.read(ctx, StorageServiceMBean, "AllDataFileLocations", &s)
}

// ReleaseVersion returns the node's Cassandra release, e.g. 3.11.17 (StorageService attribute ReleaseVersion).
func (j *Client) ReleaseVersion(ctx context.Context) (string, error) {
	var s string
	return s, j.read(ctx, StorageServiceMBean, "ReleaseVersion", &s)
}

// Partitioner returns the node's partitioner class (StorageService attribute PartitionerName).
func (j *Client) Partitioner(ctx context.Context) (string, error) {
	var s string
	return s, j.read(ctx, StorageServiceMBean, "PartitionerName", &s)
}

// LoadNewSSTables makes keyspace.table load the SSTables that appeared in its live
// directories (StorageService.loadNewSSTables, nodetool refresh).
func (j *Client) LoadNewSSTables(ctx context.Context, keyspace, table string) error {
	if err := j.exec(ctx, StorageServiceMBean, OpLoadNewSSTables, nil, keyspace, table); err != nil {
		return fmt.Errorf("refresh %s.%s: %w", keyspace, table, err)
	}
	return nil
}

// Truncate removes every row of keyspace.table (StorageService.truncate, cluster-wide).
func (j *Client) Truncate(ctx context.Context, keyspace, table string) error {
	if err := j.exec(ctx, StorageServiceMBean, OpTruncate, nil, keyspace, table); err != nil {
		return fmt.Errorf("truncate %s.%s: %w", keyspace, table, err)
	}
	return nil
}

// ImportSSTables loads the SSTables in dirs into keyspace.table through
// ColumnFamilyStoreMBean.importNewSSTables with nodetool import's defaults, and returns the
// directories that failed to import.
func (j *Client) ImportSSTables(ctx context.Context, keyspace, table string, dirs []string) ([]string, error) {
	var failed []string
	err := j.exec(ctx, TableMBean(keyspace, table), OpImportNewSSTables, &failed,
		nonNil(dirs), true, true, true, true, true, false)
	if err != nil {
		return nil, fmt.Errorf("import into %s.%s: %w", keyspace, table, err)
	}
	return failed, nil
}
