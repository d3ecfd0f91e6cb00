package restore

import (
	"errors"
	"fmt"
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

// ErrTooFewNodes is returned by Map when the datacenter has fewer nodes than the backup.
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

// Map pairs pods with backed-up nodes by rack, then ordinal, both sorted. When the racks
// match in number and each target rack has room for its source rack, rack i restores
// rack i, ordinal by ordinal, so a scale-up does not move existing pairs; otherwise the
// sorted lists are paired in order. Pods beyond the backup get no source node. Fewer
// pods than backed-up nodes would lose token ranges: Map refuses with ErrTooFewNodes.
func Map(targets []Target, sources []SourceNode) (map[string]SourceNode, error) {
	if len(targets) < len(sources) {
		return nil, fmt.Errorf("%w: the datacenter has %d nodes and the backup %d; restoring into fewer nodes would lose the token ranges of %d of them",
			ErrTooFewNodes, len(targets), len(sources), len(sources)-len(targets))
	}
	src := append([]SourceNode(nil), sources...)
	SortSources(src)
	tgt := append([]Target(nil), targets...)
	sort.SliceStable(tgt, func(i, j int) bool {
		if tgt[i].Rack != tgt[j].Rack {
			return tgt[i].Rack < tgt[j].Rack
		}
		return tgt[i].Ordinal < tgt[j].Ordinal
	})
	out := make(map[string]SourceNode, len(src))
	srcRacks, tgtRacks := group(src, func(s SourceNode) string { return s.Rack }), group(tgt, func(t Target) string { return t.Rack })
	if len(srcRacks) == len(tgtRacks) {
		fits := true
		for i := range srcRacks {
			if len(tgtRacks[i]) < len(srcRacks[i]) {
				fits = false
			}
		}
		if fits {
			for i := range srcRacks {
				for j, s := range srcRacks[i] {
					out[tgtRacks[i][j].Pod] = s
				}
			}
			return out, nil
		}
	}
	for i, s := range src {
		out[tgt[i].Pod] = s
	}
	return out, nil
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
