package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

// SecretResolver returns the credential source of a Secret; it is asked at the start of
// every operation, and the source reads the Secret at every storage call.
type SecretResolver func(namespace, name string) storage.CredentialSource

// Agent runs backup and restore operations for one node.
type Agent struct {
	// Node controls the local Cassandra node.
	Node cassandra.Node
	// DataDirs are the node's data directories; empty means ask the node.
	DataDirs []string
	// Hostname names this node in operation errors.
	Hostname string
	// Secrets resolves k8sNamespace/k8sSecretName; nil, or a request without a Secret,
	// means Credentials.
	Secrets SecretResolver
	// Credentials is used when a request names no Secret; nil means none.
	Credentials storage.CredentialSource
	// Storage is the base provider configuration (endpoints, HTTP client, part size).
	Storage storage.Config
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Metrics count the operations and their transfers; nil records nothing.
	Metrics *Metrics
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// open opens the request's storage location with the request's credentials.
func (a *Agent) open(ctx context.Context, req *api.Request) (storage.Provider, storage.Location, error) {
	cfg := a.Storage
	cfg.Insecure = req.Insecure
	cfg.Credentials = a.Credentials
	if req.K8sSecretName != "" && a.Secrets != nil {
		// Read the Secret once per operation, not once per file: a rotated Secret takes
		// effect on the next operation, and a backup of many files does not turn into as
		// many API requests.
		cfg.Credentials = &onceSource{src: a.Secrets(req.K8sNamespace, req.K8sSecretName)}
	}
	return storage.OpenLocation(ctx, req.StorageLocation, cfg)
}

// onceSource resolves credentials on first use and keeps them; a failed resolution is
// not kept, so the next use tries again.
type onceSource struct {
	src   storage.CredentialSource
	mu    sync.Mutex
	creds *storage.Credentials
}

// Credentials returns the kept credentials, resolving them the first time.
func (o *onceSource) Credentials(ctx context.Context) (storage.Credentials, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.creds != nil {
		return *o.creds, nil
	}
	c, err := o.src.Credentials(ctx)
	if err != nil {
		return storage.Credentials{}, err
	}
	o.creds = &c
	return c, nil
}

// dataDirs returns the request's data directories, or the agent's, or the node's.
func (a *Agent) dataDirs(ctx context.Context, req *api.Request) ([]string, error) {
	if len(req.DataDirs) > 0 {
		return req.DataDirs, nil
	}
	if len(a.DataDirs) > 0 {
		return a.DataDirs, nil
	}
	dirs, err := a.Node.DataDirs(ctx)
	if err != nil {
		return nil, fmt.Errorf("data directories: %w", err)
	}
	return dirs, nil
}

// identity is what a backup records about the node.
type identity struct {
	node          layout.Node
	schemaVersion string
	tokens        []string
	partitioner   string
}

// identify asks the node for its identity; a per-node storage location overrides the prefix.
func (a *Agent) identify(ctx context.Context, loc storage.Location) (identity, error) {
	var id identity
	var err error
	if id.node.HostID, err = a.Node.HostID(ctx); err != nil {
		return id, err
	}
	if id.node.Cluster, err = a.Node.ClusterName(ctx); err != nil {
		return id, err
	}
	if id.node.Datacenter, _, err = a.Node.Location(ctx); err != nil {
		return id, err
	}
	if id.schemaVersion, err = a.Node.SchemaVersion(ctx); err != nil {
		return id, err
	}
	if id.tokens, err = a.Node.Tokens(ctx); err != nil {
		return id, err
	}
	// Optional: the manifest then records no partitioner, and its tokens are checked
	// with the generic rule.
	id.partitioner, _ = a.Node.Partitioner(ctx)
	if !loc.Global() {
		id.node = layout.Node{Cluster: loc.Cluster, Datacenter: loc.DC, HostID: loc.Node}
	}
	if err := id.node.Validate(); err != nil {
		return id, fmt.Errorf("node prefix: %w", err)
	}
	return id, nil
}

// Identity asks the node who it is: what GET /identity answers.
func (a *Agent) Identity(ctx context.Context) (api.Identity, error) {
	id := api.Identity{AgentVersion: version.Get().Version}
	var err error
	if id.HostID, err = a.Node.HostID(ctx); err != nil {
		return id, fmt.Errorf("host id: %w", err)
	}
	if id.Cluster, err = a.Node.ClusterName(ctx); err != nil {
		return id, fmt.Errorf("cluster name: %w", err)
	}
	if id.Datacenter, id.Rack, err = a.Node.Location(ctx); err != nil {
		return id, fmt.Errorf("datacenter and rack: %w", err)
	}
	if id.Tokens, err = a.Node.Tokens(ctx); err != nil {
		return id, fmt.Errorf("tokens: %w", err)
	}
	if id.Release, err = a.Node.ReleaseVersion(ctx); err != nil {
		return id, fmt.Errorf("release: %w", err)
	}
	if id.SchemaVersion, err = a.Node.SchemaVersion(ctx); err != nil {
		return id, fmt.Errorf("schema version: %w", err)
	}
	if id.DataDirs, err = a.dataDirs(ctx, &api.Request{}); err != nil {
		return id, err
	}
	// Optional: a node control that cannot name the partitioner still identifies the node.
	id.Partitioner, _ = a.Node.Partitioner(ctx)
	return id, nil
}
