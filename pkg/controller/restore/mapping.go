package restore

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/profile"
)

// SourceNode is one node of a backup, as the bucket records it.
type SourceNode struct {
	// Hostname is the node's host name at backup time (its pod name).
	Hostname string
	// Rack is the node's rack.
	Rack string
	// HostID is the node's Cassandra host id; its files live under it in the bucket.
	HostID string
	// Tokens are the node's tokens at backup time.
	Tokens []string
	// ManifestKey is the key of the node's manifest for the snapshot.
	ManifestKey string
	// Bytes is the size of the node's backed-up files, from its manifest.
	Bytes int64
}

// Target is one pod of the datacenter being restored.
type Target struct {
	// Pod is the pod's name.
	Pod string
	// Rack is the pod's rack.
	Rack string
	// Ordinal is the pod's ordinal in its rack's StatefulSet.
	Ordinal int
}

// PodNameFunc names the pod of a datacenter's rack and ordinal, as the operator that runs
// the datacenter does.
type PodNameFunc func(dc *v1alpha1.CassandraDataCenter, rack string, ordinal int) string

// InstaclustrPodName names pods the way Instaclustr's cassandra-operator does: one
// StatefulSet cassandra-<datacenter>-<rack> per rack, pods <statefulset>-<ordinal>.
func InstaclustrPodName(dc *v1alpha1.CassandraDataCenter, rack string, ordinal int) string {
	return ProfilePodName(profile.InstaclustrProfile)(dc, rack, ordinal)
}

// DefaultRack is the rack of a datacenter that declares none.
const DefaultRack = "rack1"

// Targets returns the datacenter's pods, sorted by rack, then ordinal: spec.nodes spread
// over the racks (sorted by name), the first racks taking the remainder. Without
// spec.nodes the datacenter is taken to have as many nodes as the backup.
func Targets(dc *v1alpha1.CassandraDataCenter, backupNodes int, name PodNameFunc) []Target {
	racks := make([]string, 0, len(dc.Spec.Racks))
	for _, r := range dc.Spec.Racks {
		racks = append(racks, r.Name)
	}
	if len(racks) == 0 {
		racks = []string{DefaultRack}
	}
	sort.Strings(racks)
	nodes := backupNodes
	if dc.Spec.Nodes != nil {
		nodes = int(*dc.Spec.Nodes)
	}
	var out []Target
	for i, rack := range racks {
		n := nodes / len(racks)
		if i < nodes%len(racks) {
			n++
		}
		for ord := range n {
			out = append(out, Target{Pod: name(dc, rack, ord), Rack: rack, Ordinal: ord})
		}
	}
	return out
}

// ErrTooFewNodes is returned by Map when the datacenter has no node to restore into.
var ErrTooFewNodes = errors.New("too few nodes")

// ordinal returns the number a host name ends with (-<n>), or -1.
func ordinal(hostname string) int {
	i := strings.LastIndexByte(hostname, '-')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(hostname[i+1:])
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// SortSources sorts backed-up nodes by rack, then ordinal, then host name.
func SortSources(src []SourceNode) {
	sort.SliceStable(src, func(i, j int) bool {
		a, b := src[i], src[j]
		if a.Rack != b.Rack {
			return a.Rack < b.Rack
		}
		if oa, ob := ordinal(a.Hostname), ordinal(b.Hostname); oa != ob {
			return oa < ob
		}
		return a.Hostname < b.Hostname
	})
}

// group splits a list sorted by key into runs of equal keys.
func group[T any](items []T, key func(T) string) [][]T {
	var out [][]T
	for i, it := range items {
		if i == 0 || key(items[i-1]) != key(it) {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], it)
	}
	return out
}
