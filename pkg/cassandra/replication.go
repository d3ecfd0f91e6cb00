package cassandra

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrNoReplication matches the error of a replication call on a Node whose control cannot
// read or alter a keyspace's replication (Jolokia: no MBean operation does it).
var ErrNoReplication = errors.New("this node control cannot read or alter a keyspace's replication")

// Replication is a keyspace's replication as system_schema.keyspaces holds it: "class"
// and the strategy's options (for NetworkTopologyStrategy, datacenter → factor).
type Replication map[string]string

// ReplicationClass is the key of the strategy class in a Replication.
const ReplicationClass = "class"

// NetworkTopologyStrategy is the class name of the strategy that places replicas per
// datacenter.
const NetworkTopologyStrategy = "org.apache.cassandra.locator.NetworkTopologyStrategy"

// IsNetworkTopology reports whether r places replicas per datacenter.
func (r Replication) IsNetworkTopology() bool {
	c := r[ReplicationClass]
	return c == NetworkTopologyStrategy || c == "NetworkTopologyStrategy"
}

// Factors returns the replication factor of each datacenter of a NetworkTopologyStrategy
// replication; an error names an option that is not a whole number (transient replicas,
// "3/1", are not rewritten).
func (r Replication) Factors() (map[string]int, error) {
	out := map[string]int{}
	for k, v := range r {
		if k == ReplicationClass {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("replication option %s=%q is not a replication factor", k, v)
		}
		out[k] = n
	}
	return out, nil
}

// FormatFactors writes factors as datacenter:factor pairs sorted by datacenter
// ("dc1:3,dc9:2").
func FormatFactors(f map[string]int) string {
	dcs := make([]string, 0, len(f))
	for dc := range f {
		dcs = append(dcs, dc)
	}
	sort.Strings(dcs)
	parts := make([]string, len(dcs))
	for i, dc := range dcs {
		parts[i] = dc + ":" + strconv.Itoa(f[dc])
	}
	return strings.Join(parts, ",")
}

// RenameDatacenter returns the factors of r with datacenter from renamed to, the other
// datacenters kept, and whether that changes anything: a replication that is not
// NetworkTopologyStrategy (SimpleStrategy, LocalStrategy) or does not name from is left
// alone, so applying it again changes nothing. When r names both, to keeps its own factor
// and from is dropped.
func RenameDatacenter(r Replication, from, to string) (before, after map[string]int, changed bool, err error) {
	if !r.IsNetworkTopology() || from == to {
		return nil, nil, false, nil
	}
	if _, ok := r[from]; !ok {
		return nil, nil, false, nil
	}
	before, err = r.Factors()
	if err != nil {
		return nil, nil, false, err
	}
	after = map[string]int{}
	for dc, n := range before {
		if dc != from {
			after[dc] = n
		}
	}
	if _, ok := after[to]; !ok {
		after[to] = before[from]
	}
	return before, after, true, nil
}

// Replicator is implemented by a Node that can read and alter a keyspace's replication
// (the Management API's keyspace replication and alter endpoints).
type Replicator interface {
	// KeyspaceReplication returns keyspace's replication.
	KeyspaceReplication(ctx context.Context, keyspace string) (Replication, error)
	// AlterReplication sets keyspace's replication to NetworkTopologyStrategy with factors.
	AlterReplication(ctx context.Context, keyspace string, factors map[string]int) error
}

// KeyspaceReplication reads keyspace's replication through node; the error wraps
// ErrNoReplication when its control cannot.
func KeyspaceReplication(ctx context.Context, node Node, keyspace string) (Replication, error) {
	r, ok := node.(Replicator)
	if !ok {
		return nil, fmt.Errorf("replication of %s: %w", keyspace, ErrNoReplication)
	}
	return r.KeyspaceReplication(ctx, keyspace)
}

// AlterReplication sets keyspace's replication through node; the error wraps
// ErrNoReplication when its control cannot.
func AlterReplication(ctx context.Context, node Node, keyspace string, factors map[string]int) error {
	r, ok := node.(Replicator)
	if !ok {
		return fmt.Errorf("alter replication of %s: %w", keyspace, ErrNoReplication)
	}
	return r.AlterReplication(ctx, keyspace, factors)
}
