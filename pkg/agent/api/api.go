// Package api is the agent's operations API, as Icarus defines it: the request a caller
// submits and the operation it reads back, with their JSON field names and states. The
// agent (pkg/agent) serves it and pkg/agent/client calls it; the operator links only this
// package and the client, never the agent's upload and download code.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// State is the state of an operation, as Icarus names it.
type State string

// Operation states.
const (
	// StatePending is a submitted operation that has not started.
	StatePending State = "PENDING"
	// StateRunning is an operation in progress.
	StateRunning State = "RUNNING"
	// StateCompleted is an operation that succeeded.
	StateCompleted State = "COMPLETED"
	// StateCancelled is an operation stopped by a DELETE.
	StateCancelled State = "CANCELLED"
	// StateFailed is an operation that failed; Errors says why.
	StateFailed State = "FAILED"
)

// Final reports whether the operation has ended.
func (s State) Final() bool {
	return s == StateCompleted || s == StateCancelled || s == StateFailed
}

// Operation types.
const (
	// TypeBackup uploads a snapshot of the node.
	TypeBackup = "backup"
	// TypeRestore downloads a backup onto the node.
	TypeRestore = "restore"
)

// Phases of a restore into a running node (RestorationPhase, as Icarus names the steps of
// a restore); any other phase downloads and imports.
const (
	// PhaseCheck only checks that the restore can run: the tables exist with the backup's
	// ids and schemas and the data directory has room. It changes nothing.
	PhaseCheck = "CHECK"
	// PhaseTruncate checks, then truncates the restored tables through node control.
	PhaseTruncate = "TRUNCATE"
)

// SchemaMismatchPrefix starts the error message of a live restore refused because a
// table's columns on the node differ from the backup's.
const SchemaMismatchPrefix = "schema mismatch: "

// Error is one error of an operation.
type Error struct {
	// Source names where the error happened (the node's host name).
	Source string `json:"source"`
	// Message is the error's text.
	Message string `json:"message"`
}

// Bandwidth is Icarus' DataRate: a value and a unit (BPS, KBPS, MBPS, GBPS).
type Bandwidth struct {
	// Value is the amount per second.
	Value int64 `json:"value"`
	// Unit is BPS, KBPS, MBPS or GBPS.
	Unit string `json:"unit"`
}

// BytesPerSecond returns the rate in bytes per second.
func (b Bandwidth) BytesPerSecond() (int64, error) {
	mult := map[string]int64{"BPS": 1, "KBPS": 1 << 10, "MBPS": 1 << 20, "GBPS": 1 << 30}[strings.ToUpper(b.Unit)]
	if mult == 0 {
		return 0, fmt.Errorf("bandwidth.unit %q is not BPS, KBPS, MBPS or GBPS", b.Unit)
	}
	if b.Value <= 0 {
		return 0, fmt.Errorf("bandwidth.value %d is not positive", b.Value)
	}
	return b.Value * mult, nil
}

// Retry is Icarus' retry specification; the agent accepts it and retries nothing itself
// (the operator resubmits, and deduplication makes that cheap).
type Retry struct {
	// Interval is the seconds between attempts.
	Interval int `json:"interval,omitempty"`
	// Strategy is LINEAR or EXPONENTIAL.
	Strategy string `json:"strategy,omitempty"`
	// MaxAttempts is the number of attempts.
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// Enabled turns retrying on.
	Enabled bool `json:"enabled,omitempty"`
}

// Import is Icarus' import specification of a restore into a running node.
type Import struct {
	// Keyspace is the keyspace to import into.
	Keyspace string `json:"keyspace,omitempty"`
	// Table is the table to import into.
	Table string `json:"table,omitempty"`
	// KeepLevel keeps the SSTables' compaction level.
	KeepLevel bool `json:"keepLevel,omitempty"`
	// NoVerify skips SSTable verification.
	NoVerify bool `json:"noVerify,omitempty"`
	// NoVerifyTokens skips the token ownership check.
	NoVerifyTokens bool `json:"noVerifyTokens,omitempty"`
	// NoInvalidateCaches keeps the row cache.
	NoInvalidateCaches bool `json:"noInvalidateCaches,omitempty"`
	// Quick skips extended verification.
	Quick bool `json:"quick,omitempty"`
	// ExtendedVerify verifies every value.
	ExtendedVerify bool `json:"extendedVerify,omitempty"`
	// KeepRepaired keeps the repaired state.
	KeepRepaired bool `json:"keepRepaired,omitempty"`
	// SourceDir is where SSTables are staged before the import.
	SourceDir string `json:"sourceDir,omitempty"`
}

// Request holds the fields of a backup or restore request, named as Icarus names them.
type Request struct {
	// Type is backup or restore.
	Type string `json:"type"`
	// StorageLocation is proto://bucket or proto://bucket/cluster/dc/node.
	StorageLocation string `json:"storageLocation"`
	// SnapshotTag names the snapshot.
	SnapshotTag string `json:"snapshotTag"`
	// Entities selects keyspaces and tables ("ks1,ks2.t1"); empty means all.
	Entities string `json:"entities,omitempty"`
	// GlobalRequest asks Icarus to fan out to every node; the operator does that here.
	GlobalRequest bool `json:"globalRequest,omitempty"`
	// DC restricts a global request to a datacenter.
	DC string `json:"dc,omitempty"`
	// Timeout is the operation's time limit in hours; 0 means 5.
	Timeout int `json:"timeout,omitempty"`
	// ConcurrentConnections is the number of files transferred at once; 0 means 10.
	ConcurrentConnections int `json:"concurrentConnections,omitempty"`
	// Bandwidth caps the transfer rate of the whole operation.
	Bandwidth *Bandwidth `json:"bandwidth,omitempty"`
	// MetadataDirective is COPY or REPLACE (S3 refresh).
	MetadataDirective string `json:"metadataDirective,omitempty"`
	// Insecure talks HTTP to the storage endpoint.
	Insecure bool `json:"insecure,omitempty"`
	// CreateMissingBucket creates the bucket when it is missing.
	CreateMissingBucket bool `json:"createMissingBucket,omitempty"`
	// SkipBucketVerification skips the bucket existence check.
	SkipBucketVerification bool `json:"skipBucketVerification,omitempty"`
	// K8sNamespace is the namespace of the credentials Secret.
	K8sNamespace string `json:"k8sNamespace,omitempty"`
	// K8sSecretName is the name of the credentials Secret.
	K8sSecretName string `json:"k8sSecretName,omitempty"`
	// Retry is accepted for compatibility.
	Retry *Retry `json:"retry,omitempty"`
	// DataDirs overrides the node's data directories.
	DataDirs []string `json:"dataDirs,omitempty"`
	// SkipRefreshing never re-touches the objects a backup reuses, whatever LifecycleExpiry
	// says (see MetadataDirective).
	SkipRefreshing bool `json:"skipRefreshing,omitempty"`
	// RestorationStrategyType is IN_PLACE, HARDLINKS or IMPORT (restore).
	RestorationStrategyType string `json:"restorationStrategyType,omitempty"`
	// RestorationPhase is Icarus' phase of a global restore (restore).
	RestorationPhase string `json:"restorationPhase,omitempty"`
	// Import configures an IMPORT restore (restore).
	Import *Import `json:"import,omitempty"`
	// NewCluster restores into a new cluster (restore).
	NewCluster bool `json:"newCluster,omitempty"`
	// UpdateCassandraYaml writes the token configuration (restore).
	UpdateCassandraYaml bool `json:"updateCassandraYaml,omitempty"`
	// ResolveHostIDFromTopology finds the source node by host name in the topology (restore).
	ResolveHostIDFromTopology bool `json:"resolveHostIdFromTopology,omitempty"`
	// Rename maps source tables to target tables (restore); not supported yet.
	Rename map[string]string `json:"rename,omitempty"`
	// SourceHostID is the host id whose backup to restore; default this node's (restore).
	SourceHostID string `json:"sourceHostId,omitempty"`
	// Key identifies the operation to its caller: a request whose key an operation the
	// agent knows already has is answered with that operation, not started again, so a
	// caller that restarted between submitting and recording the id submits only once.
	Key string `json:"key,omitempty"`
	// MinFreeBytes is the free space a restore into a running node must leave in the data
	// directory after its files are placed; it is refused before downloading otherwise.
	MinFreeBytes int64 `json:"minFreeBytes,omitempty"`
	// BackupUID is the uid of the CassandraBackup a backup is for; it also names the
	// backup's in-flight marker, which the garbage collector (pkg/gc) honours while the
	// backup runs. It travels in the HeaderBackupUID header, not in the body: agents built
	// before it refuse unknown body fields, and ignore the header.
	BackupUID string `json:"-"`
	// LifecycleExpiry is the age at which the location's lifecycle rules expire objects;
	// 0 means the location has none. A backup refreshes a reused object only when it was
	// last written or refreshed more than half of it ago (never with SkipRefreshing). It
	// travels in the HeaderLifecycleExpiry header, for the skew window (see there).
	LifecycleExpiry time.Duration `json:"-"`
}

// HeaderBackupUID carries Request.BackupUID: a repeated backup of the same uid reports
// the existing result; a backup of another uid (or none) of a snapshot tag that already
// has a committed backup at the location is refused.
const HeaderBackupUID = "Cassandra-Backup-Uid"

// DecodeRequest decodes and validates a request; the error names the offending field.
func DecodeRequest(r io.Reader) (Request, error) {
	var req Request
	data, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes))
	if err != nil {
		return req, fmt.Errorf("read request: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return req, fmt.Errorf("field %s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return req, fmt.Errorf("malformed request: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return req, fmt.Errorf("malformed request: data after the JSON object")
	}
	return req, req.Validate()
}

// uidRE matches a Kubernetes UID (and any name that can be one object key segment).
var uidRE = regexp.MustCompile(`^[0-9a-zA-Z][0-9a-zA-Z-]{0,63}$`)

// Validate checks the request's fields.
func (r *Request) Validate() error {
	switch r.Type {
	case TypeBackup, TypeRestore:
	case "":
		return fmt.Errorf("field type is required: backup or restore")
	default:
		return fmt.Errorf("field type: %q is not backup or restore", r.Type)
	}
	if _, err := storage.ParseLocation(r.StorageLocation); err != nil {
		return fmt.Errorf("field storageLocation: %w", err)
	}
	if r.SnapshotTag == "" || strings.ContainsAny(r.SnapshotTag, "/\\ \t\n") || r.SnapshotTag == "." || r.SnapshotTag == ".." {
		return fmt.Errorf("field snapshotTag: %q is not a valid snapshot name", r.SnapshotTag)
	}
	if _, err := cassandra.ParseEntities(r.Entities); err != nil {
		return fmt.Errorf("field entities: %w", err)
	}
	if len(r.Key) > 253 {
		return fmt.Errorf("field key: longer than 253 characters")
	}
	if r.BackupUID != "" && !uidRE.MatchString(r.BackupUID) {
		return fmt.Errorf("field backupUid: %q is not a UID", r.BackupUID)
	}
	if r.Timeout < 0 {
		return fmt.Errorf("field timeout: %d is negative", r.Timeout)
	}
	if r.ConcurrentConnections < 0 || r.ConcurrentConnections > 1024 {
		return fmt.Errorf("field concurrentConnections: %d is not between 0 and 1024", r.ConcurrentConnections)
	}
	if r.Bandwidth != nil {
		if _, err := r.Bandwidth.BytesPerSecond(); err != nil {
			return fmt.Errorf("field %w", err)
		}
	}
	if _, err := storage.ParseMetadataDirective(r.MetadataDirective); err != nil {
		return fmt.Errorf("field %w", err)
	}
	if r.K8sNamespace != "" && r.K8sSecretName == "" {
		return fmt.Errorf("field k8sSecretName is required with k8sNamespace")
	}
	if r.Type == TypeRestore {
		switch r.RestorationStrategyType {
		case "", "IN_PLACE", "IMPORT":
		case "HARDLINKS":
			return fmt.Errorf("field restorationStrategyType: HARDLINKS is not supported; use IN_PLACE or IMPORT")
		default:
			return fmt.Errorf("field restorationStrategyType: %q is not IN_PLACE, HARDLINKS or IMPORT", r.RestorationStrategyType)
		}
		if r.MinFreeBytes < 0 {
			return fmt.Errorf("field minFreeBytes: %d is negative", r.MinFreeBytes)
		}
		if len(r.Rename) > 0 {
			return fmt.Errorf("field rename: renaming tables on restore is not supported")
		}
	}
	return nil
}

// Concurrency returns the number of files transferred at once.
func (r *Request) Concurrency() int {
	if r.ConcurrentConnections == 0 {
		return 10
	}
	return r.ConcurrentConnections
}

// TimeLimit returns the operation's time limit.
func (r *Request) TimeLimit() time.Duration {
	if r.Timeout == 0 {
		return 5 * time.Hour
	}
	return time.Duration(r.Timeout) * time.Hour
}

// Operation is an operation as the API shows it: the request, its state and progress.
type Operation struct {
	Request
	// ID is the operation's UUID.
	ID string `json:"id"`
	// CreationTime is when the operation was submitted.
	CreationTime time.Time `json:"creationTime"`
	// State is the operation's state.
	State State `json:"state"`
	// Errors are the operation's errors.
	Errors []Error `json:"errors"`
	// Progress is the done fraction, 0 to 1, computed from bytes; 1 only when completed.
	Progress float64 `json:"progress"`
	// StartTime is when the operation started running.
	StartTime *time.Time `json:"startTime,omitempty"`
	// CompletionTime is when the operation ended.
	CompletionTime *time.Time `json:"completionTime,omitempty"`
	// Transfer holds byte and file counts.
	Transfer
	// HostID is the host id of the node a backup operation backs up, once it is known;
	// an addition to Icarus' operation, absent when empty.
	HostID string `json:"hostId,omitempty"`
	// SchemaVersion is the schema version a backup operation recorded; an addition to
	// Icarus' operation, absent when empty.
	SchemaVersion string `json:"schemaVersion,omitempty"`
}

// Transfer counts the bytes and files of an operation.
type Transfer struct {
	// BytesTotal is the size of every file the operation covers.
	BytesTotal int64 `json:"bytesTotal"`
	// BytesTransferred is what was uploaded or downloaded.
	BytesTransferred int64 `json:"bytesTransferred"`
	// BytesSkipped is what was already in place (deduplicated or already restored).
	BytesSkipped int64 `json:"bytesSkipped"`
	// FilesTotal is the number of files the operation covers.
	FilesTotal int `json:"filesTotal"`
	// FilesTransferred is the number of files uploaded or downloaded.
	FilesTransferred int `json:"filesTransferred"`
	// FilesSkipped is the number of files already in place.
	FilesSkipped int `json:"filesSkipped"`
}

// Progress returns the done fraction of the bytes, below 1 until every byte is accounted for.
func (t Transfer) Progress() float64 {
	if t.BytesTotal == 0 {
		return 0
	}
	p := float64(t.BytesTransferred+t.BytesSkipped) / float64(t.BytesTotal)
	if p > 1 {
		p = 1
	}
	return p
}

// Identity is the node an agent runs beside, as the node reports it: what GET /identity
// answers. The operator takes a node's identity from here and from nowhere else.
type Identity struct {
	// HostID is the node's host id.
	HostID string `json:"hostId"`
	// Cluster is the node's cluster name.
	Cluster string `json:"cluster"`
	// Datacenter is the node's datacenter.
	Datacenter string `json:"datacenter"`
	// Rack is the node's rack.
	Rack string `json:"rack"`
	// Tokens are the node's tokens.
	Tokens []string `json:"tokens"`
	// Release is the node's Cassandra release, e.g. 4.1.5.
	Release string `json:"release"`
	// SchemaVersion is the node's schema version.
	SchemaVersion string `json:"schemaVersion"`
	// DataDirs are the data directories the agent backs up.
	DataDirs []string `json:"dataDirs"`
	// Partitioner is the node's partitioner class; empty when the node does not say.
	Partitioner string `json:"partitioner,omitempty"`
	// AgentVersion is the agent's own version.
	AgentVersion string `json:"agentVersion"`
}

// ValidateBackupUID checks a backup uid from HeaderBackupUID: empty, or up to 64 letters,
// digits and dashes (a Kubernetes uid).
func ValidateBackupUID(uid string) error {
	if len(uid) > 64 || strings.Trim(uid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
		return fmt.Errorf("header %s: %q is not a uid", HeaderBackupUID, uid)
	}
	return nil
}
