package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/layout"
	"github.com/cassbackup/cassandra-backup-operator/pkg/plan"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
)

// RestoreSpec is a restore of one node's backup into local directories, before Cassandra
// starts (the init container).
type RestoreSpec struct {
	// Request carries storageLocation, snapshotTag, entities, newCluster, credentials,
	// concurrentConnections and bandwidth.
	api.Request
	// Cluster and Datacenter locate the source node's backups in the bucket.
	Cluster, Datacenter string
	// HostID is the source node's host id; when empty, Hostname is looked up in the topology.
	HostID string
	// ManifestKey is the bucket key of the planned manifest; any other is refused. Empty
	// (plans from before it was passed): the tag's manifest, when the node has only one.
	ManifestKey string
	// More are further source nodes restored into the same data directories, their
	// SSTables renumbered where generations clash, the tokens the union of all.
	More []RestoreSource
	// IncludeAuth restores system_auth too when NewCluster is set.
	IncludeAuth bool
	// Hostname is this pod's name, matched against the backup's topology.
	Hostname string
	// CommitLogDir, HintsDir and SavedCachesDir are wiped (when set).
	CommitLogDir, HintsDir, SavedCachesDir string
	// TokensFile receives the cassandra.yaml fragment with auto_bootstrap and initial_token.
	TokensFile string
	// MarkerFile records the restore key once the restore is complete.
	MarkerFile string
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	// Key identifies the restored backup; the marker file holds it.
	Key string
	// Manifest is the restored manifest without its entries (a node's may list millions).
	Manifest layout.ManifestHeader
	// AlreadyDone is true when the marker showed the restore was already complete.
	AlreadyDone bool
}

// Restore downloads a node's backup into the data directories: each file is verified (size
// and SHA-256) as it is written (downloadFile); files already present and identical are
// kept, so a killed restore resumes, verifying again whatever it finds. It then syncs the
// filesystem, wipes the commit log, hints and saved caches, writes the token configuration
// and, last, the marker.
func (a *Agent) Restore(ctx context.Context, spec RestoreSpec, tr *Tracker) (RestoreResult, error) {
	logger := klog.FromContext(ctx).WithValues("snapshotTag", spec.SnapshotTag)
	var res RestoreResult
	if spec.Type == "" {
		spec.Type = api.TypeRestore
	}
	if err := spec.Validate(); err != nil {
		return res, err
	}
	if len(spec.DataDirs) == 0 {
		spec.DataDirs = a.DataDirs
	}
	if len(spec.DataDirs) == 0 {
		return res, fmt.Errorf("no data directory to restore into")
	}
	entities, err := cassandra.ParseEntities(spec.Entities)
	if err != nil {
		return res, err
	}
	lim, err := newLimiter(spec.Bandwidth)
	if err != nil {
		return res, err
	}
	if key, ok := markerDone(spec); ok {
		res.Key, res.AlreadyDone = key, true
		return res, nil
	}
	p, loc, err := a.open(ctx, &spec.Request)
	if err != nil {
		return res, err
	}
	defer p.Close()
	node, err := a.sourceNode(ctx, p, loc, spec)
	if err != nil {
		return res, err
	}
	ref, err := plannedManifest(ctx, layout.Catalog{Storage: p}, node, spec)
	if err != nil {
		return res, err
	}
	more, err := moreSources(ctx, layout.Catalog{Storage: p}, node, spec)
	if err != nil {
		return res, err
	}
	sources := append([]restoreSource{{node: node, ref: ref}}, more...)
	res.Key = sourcesKey(spec.StorageLocation, sources)
	keep := func(f layout.File) bool {
		if cassandra.IsSystemKeyspace(f.Keyspace) {
			return !spec.NewCluster || f.Keyspace == "system_schema" || spec.IncludeAuth && f.Keyspace == "system_auth"
		}
		return entities.Match(f.Keyspace, f.Table)
	}
	dataDir := spec.DataDirs[0]
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return res, err
	}
	// The file lists go to disk, next to the data: the init container's root is read-only.
	// A killed restore's lists are removed first.
	if err := removeSpills(dataDir); err != nil {
		return res, err
	}
	dir, err := spillDir(dataDir)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	lists, err := readRestoreLists(ctx, p, sources, keep, dataDir, dir)
	if err != nil {
		return res, err
	}
	defer closeLists(lists)
	res.Manifest = lists[0].header
	// Only once the manifests have been read whole and accepted: a refused one writes nothing.
	if err := claimDataDirs(spec, res.Key); err != nil {
		return res, err
	}
	nodes := make([]layout.Node, len(sources))
	for i, s := range sources {
		nodes[i] = s.node
	}
	if err := downloadAll(ctx, p, nodes, lists, spec.Concurrency(), lim, tr); err != nil {
		return res, err
	}
	wanted := lists[0]
	if len(lists) > 1 {
		if wanted, err = union(lists, dir); err != nil {
			return res, err
		}
		defer wanted.close()
	}
	if err := removeStrays(wanted, spec.DataDirs, dir); err != nil {
		return res, err
	}
	// One filesystem sync instead of an fsync per file: the marker, written last, must
	// never describe data that a crash could still lose.
	if err := syncFS(dataDir); err != nil {
		return res, fmt.Errorf("sync %s: %w", dataDir, err)
	}
	for _, d := range []string{spec.CommitLogDir, spec.HintsDir, spec.SavedCachesDir} {
		if err := emptyDir(d); err != nil {
			return res, err
		}
	}
	if spec.TokensFile != "" {
		frag := TokensYAML(unionTokens(lists))
		if len(lists) > 1 {
			// Cassandra refuses an initial_token list longer than num_tokens.
			frag += fmt.Sprintf("num_tokens: %d\n", len(unionTokens(lists)))
		}
		if err := file.WriteAtomic(spec.TokensFile, []byte(frag)); err != nil {
			return res, fmt.Errorf("write token configuration: %w", err)
		}
	}
	if spec.MarkerFile != "" {
		if err := file.WriteAtomic(spec.MarkerFile, []byte(res.Key+"\n")); err != nil {
			return res, fmt.Errorf("write marker: %w", err)
		}
		_ = os.Remove(startedFile(spec))
	}
	logger.V(1).Info("Restore complete", "manifest", ref.Key, "transfer", tr.Snapshot())
	return res, nil
}

// markerDone reports whether the marker file records a finished restore of this spec's
// location, snapshot tag and (when known) source host, without asking storage: a restarted
// init container exits at once even when storage is unreachable.
func markerDone(spec RestoreSpec) (string, bool) {
	if spec.MarkerFile == "" {
		return "", false
	}
	b, err := os.ReadFile(spec.MarkerFile)
	if err != nil {
		return "", false
	}
	key := strings.TrimSpace(string(b))
	if want := planKey(spec); want != "" {
		return key, key == want
	}
	loc, manifestKey, ok := plan.ParseRestoreKey(key)
	if !ok || loc != spec.StorageLocation {
		return "", false
	}
	ref, err := layout.ParseManifestKey(manifestKey)
	if err != nil || ref.Tag != spec.SnapshotTag {
		return "", false
	}
	if spec.HostID != "" && !strings.Contains(manifestKey, "/"+spec.HostID+"/"+layout.ManifestsDir+"/") {
		return "", false
	}
	return key, true
}

// TokensYAML returns the cassandra.yaml fragment that makes a restored node keep its tokens.
func TokensYAML(tokens []string) string {
	return "auto_bootstrap: false\ninitial_token: " + strings.Join(tokens, ",") + "\n"
}

// sourceNode locates the node whose backup is restored.
func (a *Agent) sourceNode(ctx context.Context, p storage.Provider, loc storage.Location, spec RestoreSpec) (layout.Node, error) {
	if !loc.Global() {
		return layout.Node{Cluster: loc.Cluster, Datacenter: loc.DC, HostID: loc.Node}, nil
	}
	n := layout.Node{Cluster: spec.Cluster, Datacenter: spec.Datacenter, HostID: spec.HostID}
	if n.HostID == "" && spec.Hostname != "" {
		ref, top, err := layout.Catalog{Storage: p}.Topology(ctx, spec.Cluster, spec.SnapshotTag)
		if err != nil {
			return n, err
		}
		h, ok := top.HostByHostname(spec.Hostname)
		if !ok {
			return n, fmt.Errorf("host %s is not in topology %s", spec.Hostname, ref.Key)
		}
		if err := h.Validate(); err != nil {
			return n, &layout.RefusedError{Key: ref.Key, Err: err}
		}
		n.HostID = h.NodeID
		if n.Datacenter == "" {
			n.Datacenter = h.DC
		}
	}
	if err := n.Validate(); err != nil {
		return n, fmt.Errorf("source node: %w", err)
	}
	if err := layout.ValidateHostID(n.HostID); err != nil {
		return n, fmt.Errorf("source node: %w", err)
	}
	return n, nil
}

// emptyDir removes the contents of dir, keeping dir itself; an empty path does nothing.
func emptyDir(dir string) error {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wipe %s: %w", dir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("wipe %s: %w", dir, err)
		}
	}
	return nil
}

// syncFS flushes the filesystem that holds dir to stable storage.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
