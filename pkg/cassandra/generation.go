package cassandra

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// WithGeneration returns the descriptor of the same component of SSTable generation g.
func (d Descriptor) WithGeneration(g string) Descriptor {
	d.Generation = g
	return d
}

// Renumber assigns generations to the SSTables of several nodes restored into one
// directory, so that no two SSTables share one: gens[k] are the generations of node k's
// SSTables there. Node 0 keeps its generations; a later node keeps each generation no
// earlier node has, and gets a new one for the others: a number above every numeric
// generation of every node, or, for a time-UUID generation, the same time with other
// low bits. The result, per node, maps each renamed generation to its new one (nil when
// none is renamed). It is deterministic: a resumed restore renames the same way.
func Renumber(gens [][]string) []map[string]string {
	all := map[string]bool{}
	var top int64
	for _, gs := range gens {
		for _, g := range gs {
			all[g] = true
			if n, err := strconv.ParseInt(g, 10, 64); err == nil && n > top {
				top = n
			}
		}
	}
	taken := map[string]bool{}
	out := make([]map[string]string, len(gens))
	for k, gs := range gens {
		sorted := slices.Clone(gs)
		slices.SortFunc(sorted, compareGenerations)
		for _, g := range slices.Compact(sorted) {
			if !taken[g] {
				taken[g] = true
				continue
			}
			var ng string
			if intGenRE.MatchString(g) {
				top++
				ng = strconv.FormatInt(top, 10)
			} else {
				for attempt := 0; ng == "" || all[ng] || taken[ng]; attempt++ {
					ng = otherUUIDGeneration(g, k, attempt)
				}
			}
			taken[ng] = true
			if out[k] == nil {
				out[k] = map[string]string{}
			}
			out[k][g] = ng
		}
	}
	return out
}

// compareGenerations orders numeric generations by value, before time-UUID ones.
func compareGenerations(a, b string) int {
	na, ea := strconv.ParseInt(a, 10, 64)
	nb, eb := strconv.ParseInt(b, 10, 64)
	switch {
	case ea == nil && eb == nil:
		return int(min(max(na-nb, -1), 1))
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// otherUUIDGeneration returns a time-UUID generation with g's time (its first 15
// characters: days, seconds, decimicroseconds) and the node bits of its low 64 bits (the
// last 13 base36 characters) replaced by a hash of g, the node's index and attempt.
func otherUUIDGeneration(g string, node, attempt int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d/%d", g, node, attempt)
	const nodeBits = 1<<48 - 1
	lsb, err := strconv.ParseUint(g[len(g)-13:], 36, 64)
	if err != nil {
		lsb = 1 << 63 // the IETF variant, as a time-UUID's
	}
	lsb = lsb&^nodeBits | h.Sum64()&nodeBits
	s := strconv.FormatUint(lsb, 36)
	return g[:len(g)-13] + strings.Repeat("0", 13-len(s)) + s
}
