package plan

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

// Command is the agent's subcommand the restore init container runs.
const Command = "restore"

// DefaultTimeout bounds a restore when the init container is given no --timeout (the
// pods of plans written before the flag existed): a day is longer than any node's
// download should take, and shorter than forever in Init.
const DefaultTimeout = 24 * time.Hour

// Args are the restore init container's arguments after Command: the webhook writes them
// with Flags, the agent's restore command reads them with Register. Only the Secret's
// name travels, never its content.
type Args struct {
	// StorageLocation is the backup's bucket, proto://bucket[/cluster/dc/node].
	StorageLocation string
	// SnapshotTag is the backup's snapshot tag.
	SnapshotTag string
	// Cluster and Datacenter are the backup's cluster and datacenter names.
	Cluster, Datacenter string
	// HostID is the host id of the source node.
	HostID string
	// ManifestKey is the bucket key of the one manifest the plan restores; the agent
	// refuses any other. Empty in the pods of plans from before it was passed: the agent
	// then restores the tag's manifest only when the node has exactly one.
	ManifestKey string
	// More are the further source nodes restored into the same data directories (a
	// datacenter with fewer nodes than the backup), each with its manifest.
	More []ArgSource
	// NewCluster restores into a new cluster: of the system keyspaces only system_schema.
	NewCluster bool
	// IncludeAuth restores system_auth too (with NewCluster).
	IncludeAuth bool
	// DataDirs are the Cassandra data directories to restore into.
	DataDirs []string
	// CommitLogDir, HintsDir and SavedCachesDir are wiped; empty leaves them alone.
	CommitLogDir, HintsDir, SavedCachesDir string
	// TokensFile receives the cassandra.yaml fragment with the tokens.
	TokensFile string
	// MarkerFile records the restore key once the restore is complete.
	MarkerFile string
	// SecretName names the credentials Secret in the pod's namespace; none when empty.
	SecretName string
	// Entities are the keyspaces and tables to restore; all when empty.
	Entities string
	// Insecure talks HTTP to the storage endpoint.
	Insecure bool
	// Timeout bounds the whole restore; DefaultTimeout when zero (the flag is then not
	// written).
	Timeout time.Duration
	// StatusListen is the address where the init container serves its progress (the
	// read-only part of the agent's API, authenticated as the agent's) while it
	// restores: the agent's port, free until the sidecar starts. Empty serves nothing.
	StatusListen string
}

// Flags returns the arguments as --name=value flags, in a stable order. The directory
// flags are always written (an empty value leaves the directory alone).
func (a Args) Flags() []string {
	out := []string{
		"--storage-location=" + a.StorageLocation,
		"--snapshot-tag=" + a.SnapshotTag,
		"--cluster=" + a.Cluster,
		"--dc=" + a.Datacenter,
		"--host-id=" + a.HostID,
	}
	if a.ManifestKey != "" {
		out = append(out, "--manifest-key="+a.ManifestKey)
	}
	for _, m := range a.More {
		out = append(out, "--add-source="+m.HostID+":"+m.ManifestKey)
	}
	if a.NewCluster {
		out = append(out, "--new-cluster")
	}
	if a.IncludeAuth {
		out = append(out, "--include-auth")
	}
	for _, d := range a.DataDirs {
		out = append(out, "--data-dir="+d)
	}
	out = append(out,
		"--commitlog-dir="+a.CommitLogDir,
		"--hints-dir="+a.HintsDir,
		"--saved-caches-dir="+a.SavedCachesDir,
		"--tokens-file="+a.TokensFile,
		"--marker-file="+a.MarkerFile,
	)
	if a.SecretName != "" {
		out = append(out, "--k8s-secret-name="+a.SecretName)
	}
	if a.Entities != "" {
		out = append(out, "--entities="+a.Entities)
	}
	if a.Insecure {
		out = append(out, "--insecure")
	}
	if a.Timeout > 0 {
		out = append(out, "--timeout="+a.Timeout.String())
	}
	if a.StatusListen != "" {
		out = append(out, "--status-listen="+a.StatusListen)
	}
	return out
}

// Register binds the flags Flags writes to a, with the defaults of an Instaclustr pod.
func (a *Args) Register(fs *flag.FlagSet) {
	fs.StringVar(&a.StorageLocation, "storage-location", "", "storage location, proto://bucket[/cluster/dc/node]")
	fs.StringVar(&a.SnapshotTag, "snapshot-tag", "", "snapshot tag of the backup")
	fs.StringVar(&a.Cluster, "cluster", "", "cluster name of the backup")
	fs.StringVar(&a.Datacenter, "dc", "", "datacenter of the backup")
	fs.StringVar(&a.HostID, "host-id", "", "host id of the source node")
	fs.StringVar(&a.ManifestKey, "manifest-key", "", "bucket key of the manifest to restore; any other is refused (empty: the tag's only manifest)")
	fs.Func("add-source", "a further source node restored into the same data directories, <host id>:<manifest key> (repeatable)", func(v string) error {
		id, key, ok := strings.Cut(v, ":")
		if !ok || id == "" || key == "" {
			return fmt.Errorf("want <host id>:<manifest key>, got %q", v)
		}
		a.More = append(a.More, ArgSource{HostID: id, ManifestKey: key})
		return nil
	})
	fs.BoolVar(&a.NewCluster, "new-cluster", false, "restore into a new cluster: of the system keyspaces keep only system_schema")
	fs.BoolVar(&a.IncludeAuth, "include-auth", false, "with --new-cluster, restore system_auth too (users, roles, permissions)")
	fs.Func("data-dir", "Cassandra data directory (repeatable, or comma separated)", func(v string) error {
		a.DataDirs = append(a.DataDirs, splitList(v)...)
		return nil
	})
	fs.StringVar(&a.CommitLogDir, "commitlog-dir", "/var/lib/cassandra/commitlog", "commit log directory, wiped")
	fs.StringVar(&a.HintsDir, "hints-dir", "/var/lib/cassandra/hints", "hints directory, wiped")
	fs.StringVar(&a.SavedCachesDir, "saved-caches-dir", "/var/lib/cassandra/saved_caches", "saved caches directory, wiped")
	fs.StringVar(&a.TokensFile, "tokens-file", "/var/lib/cassandra/tokens.yaml", "where to write the cassandra.yaml fragment with the tokens")
	fs.StringVar(&a.MarkerFile, "marker-file", "/var/lib/cassandra/data/restore_done", "marker holding the restore key once done")
	fs.StringVar(&a.SecretName, "k8s-secret-name", "", "name of the credentials Secret")
	fs.StringVar(&a.Entities, "entities", "", "keyspaces and tables to restore (ks1,ks2.t1); all when empty")
	fs.BoolVar(&a.Insecure, "insecure", false, "talk HTTP to the storage endpoint")
	fs.DurationVar(&a.Timeout, "timeout", DefaultTimeout, "give up the restore, with an error, after this long")
	fs.StringVar(&a.StatusListen, "status-listen", "", "address where the restore's progress is served (GET /operations, authenticated as the agent's API) while it runs; off when empty")
}

// ArgSource is a further source node of the restore init container (--add-source).
type ArgSource struct {
	// HostID is the source node's host id.
	HostID string
	// ManifestKey is the bucket key of its planned manifest.
	ManifestKey string
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' })
}
