// Package layout is the Esop-compatible layout of backups in a bucket: object keys,
// manifests and topology files. Catalog is the one reader of the backups a bucket holds
// (committed backups, a node's manifests, what references an object), for the
// controllers, the agent and garbage collection; nothing else lists or parses them.
package layout

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	// TopologyDir is the bucket directory of topology files.
	TopologyDir = "topology"
	// ManifestsDir is the node directory of manifests.
	ManifestsDir = "manifests"
	// DataDir is the node directory of SSTables and schemas.
	DataDir = "data"
	// SchemaFile is the name of a table's schema object.
	SchemaFile = "schema.cql"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Node identifies one node's part of a bucket: <cluster>/<dc>/<hostId>.
type Node struct {
	// Cluster is the cluster name.
	Cluster string
	// Datacenter is the datacenter name.
	Datacenter string
	// HostID is the node's Cassandra host id.
	HostID string
}

// Validate checks that every part is one non-empty path segment.
func (n Node) Validate() error {
	for _, p := range []struct{ name, v string }{{"cluster", n.Cluster}, {"datacenter", n.Datacenter}, {"host id", n.HostID}} {
		if err := segment(p.v); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
}

// segment checks that s can be one segment of an object key.
func segment(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a name", s)
	case strings.ContainsAny(s, "/\\"):
		return fmt.Errorf("%q contains a path separator", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q contains a control character", s)
		}
	}
	return nil
}

// Prefix returns <cluster>/<dc>/<hostId>.
func (n Node) Prefix() string {
	return n.Cluster + "/" + n.Datacenter + "/" + n.HostID
}

// Key returns the bucket key of an object key relative to the node (as manifests hold them).
func (n Node) Key(objectKey string) string {
	return n.Prefix() + "/" + objectKey
}

// ManifestPrefix returns the prefix under which the node's manifests are stored.
func (n Node) ManifestPrefix() string {
	return n.Prefix() + "/" + ManifestsDir + "/"
}

// ManifestKey returns <cluster>/<dc>/<hostId>/manifests/<tag>-<schemaVersion>-<epochMillis>.json.
func (n Node) ManifestKey(tag, schemaVersion string, at time.Time) string {
	return n.ManifestPrefix() + ManifestName(tag, schemaVersion, at)
}

// ManifestName returns <tag>-<schemaVersion>-<epochMillis>.json.
func ManifestName(tag, schemaVersion string, at time.Time) string {
	return tag + "-" + schemaVersion + "-" + strconv.FormatInt(at.UnixMilli(), 10) + ".json"
}

// SSTableKey returns the object key of one SSTable file relative to the node:
// data/<ks>/<tableDir>[/<index>]/<generation>-<digest>/<file>. index is a secondary index
// directory (".name") or empty.
func SSTableKey(keyspace, tableDir, index, generation, digest, file string) string {
	p := []string{DataDir, keyspace, tableDir}
	if index != "" {
		p = append(p, index)
	}
	return strings.Join(append(p, generation+"-"+digest, file), "/")
}

// RevisionKey returns the key for content of an SSTable file that differs from what is
// already stored under objectKey: the <generation>-<digest> directory gains the first 16
// hex digits of the content's SHA-256 (data/…/<generation>-<digest>-<sha256[:16]>/<file>).
// Cassandra rewrites some components of a live SSTable in place (Statistics.db when repair
// or a level change marks it, Summary.db when index summaries are resampled), and the
// object under the first key belongs to the backups that already reference it. The file
// name, and so where a restore puts the file, is unchanged.
func RevisionKey(objectKey, sha256 string) string {
	dir, file := path.Split(objectKey)
	return strings.TrimSuffix(dir, "/") + "-" + sha256[:min(16, len(sha256))] + "/" + file
}

// SchemaKey returns the object key of a table's schema relative to the node: data/<ks>/<tableDir>/schema.cql.
func SchemaKey(keyspace, tableDir string) string {
	return DataDir + "/" + keyspace + "/" + tableDir + "/" + SchemaFile
}

// TopologyKey returns topology/<cluster>-<tag>-<schemaVersion>-<epochMillis>-topology.json.
func TopologyKey(cluster, tag, schemaVersion string, at time.Time) string {
	return TopologyDir + "/" + cluster + "-" + tag + "-" + schemaVersion + "-" + strconv.FormatInt(at.UnixMilli(), 10) + "-topology.json"
}

// Ref is a manifest or topology file found by its key.
type Ref struct {
	// Key is the object key.
	Key string
	// Tag is the snapshot tag.
	Tag string
	// SchemaVersion is the schema version at the time of the backup.
	SchemaVersion string
	// EpochMillis is the time of the backup in milliseconds since the Unix epoch.
	EpochMillis int64
}

// Time returns the time of the backup.
func (r Ref) Time() time.Time { return time.UnixMilli(r.EpochMillis).UTC() }

// splitVersionTime splits "<tag>-<schemaVersion>-<epochMillis>" from the right.
func splitVersionTime(s string) (tag, version string, ms int64, err error) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", "", 0, fmt.Errorf("no epoch milliseconds")
	}
	ms, err = strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || ms < 0 || strings.HasPrefix(s[i+1:], "+") {
		return "", "", 0, fmt.Errorf("bad epoch milliseconds %q", s[i+1:])
	}
	rest := s[:i]
	if len(rest) < 38 || rest[len(rest)-37] != '-' || !uuidRE.MatchString(rest[len(rest)-36:]) {
		return "", "", 0, fmt.Errorf("no schema version")
	}
	tag, version = rest[:len(rest)-37], rest[len(rest)-36:]
	if err := segment(tag); err != nil {
		return "", "", 0, fmt.Errorf("tag: %w", err)
	}
	return tag, version, ms, nil
}

// ParseManifestKey parses a manifest key (or its base name) <tag>-<schemaVersion>-<epochMillis>.json.
func ParseManifestKey(key string) (Ref, error) {
	name := path.Base(key)
	s, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return Ref{}, fmt.Errorf("manifest key %q: not a .json file", key)
	}
	tag, v, ms, err := splitVersionTime(s)
	if err != nil {
		return Ref{}, fmt.Errorf("manifest key %q: %w", key, err)
	}
	return Ref{Key: key, Tag: tag, SchemaVersion: v, EpochMillis: ms}, nil
}

// ParseTopologyKey parses a topology key (or its base name)
// <cluster>-<tag>-<schemaVersion>-<epochMillis>-topology.json of the given cluster.
func ParseTopologyKey(key, cluster string) (Ref, error) {
	name := path.Base(key)
	s, ok := strings.CutSuffix(name, "-topology.json")
	if !ok {
		return Ref{}, fmt.Errorf("topology key %q: not a -topology.json file", key)
	}
	s, ok = strings.CutPrefix(s, cluster+"-")
	if !ok || cluster == "" {
		return Ref{}, fmt.Errorf("topology key %q: not of cluster %q", key, cluster)
	}
	tag, v, ms, err := splitVersionTime(s)
	if err != nil {
		return Ref{}, fmt.Errorf("topology key %q: %w", key, err)
	}
	return Ref{Key: key, Tag: tag, SchemaVersion: v, EpochMillis: ms}, nil
}

// latest returns the newest ref with the tag (any tag when all is set); ties go to the
// greatest key.
func latest(keys []string, tag string, all bool, parse func(string) (Ref, error)) (Ref, bool) {
	var refs []Ref
	for _, k := range keys {
		if r, err := parse(k); err == nil && (all || r.Tag == tag) {
			refs = append(refs, r)
		}
	}
	if len(refs) == 0 {
		return Ref{}, false
	}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].EpochMillis != refs[j].EpochMillis {
			return refs[i].EpochMillis < refs[j].EpochMillis
		}
		return refs[i].Key < refs[j].Key
	})
	return refs[len(refs)-1], true
}

// LatestManifest returns the newest manifest of tag among keys; keys that are not manifests are ignored.
func LatestManifest(keys []string, tag string) (Ref, bool) {
	return latest(keys, tag, false, ParseManifestKey)
}

// NewestManifest returns the newest manifest among keys, whatever its tag.
func NewestManifest(keys []string) (Ref, bool) {
	return latest(keys, "", true, ParseManifestKey)
}

// LatestTopology returns the newest topology file of cluster and tag among keys.
func LatestTopology(keys []string, cluster, tag string) (Ref, bool) {
	return latest(keys, tag, false, func(k string) (Ref, error) { return ParseTopologyKey(k, cluster) })
}
