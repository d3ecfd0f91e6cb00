package restore

import (
	"fmt"
	"sort"
	"strings"
)

// ErrRackUnmapped is returned by Map when the backup's racks cannot be mapped onto the
// datacenter's: spec.restore.rackMap leaves a source rack out or names a rack that none
// of the datacenter's pods is in.
var ErrRackUnmapped = fmt.Errorf("racks cannot be mapped")

// MapOptions are the user's choices that shape a mapping (spec.restore).
type MapOptions struct {
	// RackMap maps source racks to target racks; nil maps them by name, else in sorted
	// order when the rack counts match.
	RackMap map[string]string
}

// Map assigns the backed-up nodes to the datacenter's pods, both sorted by rack, then
// ordinal; a function of the backup's topology, the datacenter's pods and the options
// only. Racks are mapped by MapOptions.RackMap, else by name, else (as many racks on both
// sides) in sorted order. With room in every rack each pod restores one node of its
// mapped rack, ordinal by ordinal, so a scale-up does not move existing pairs; with room
// overall but not in some rack (and no rackMap) the sorted lists are paired across racks.
// With fewer pods than nodes, each pod of a rack takes a balanced share of the nodes
// mapped to that rack (6 → 3: two each, 3 → 2: two and one), or of all nodes when the
// racks cannot be kept. Pods beyond the backup get no source node and bootstrap.
func Map(targets []Target, sources []SourceNode, opts MapOptions) (map[string][]SourceNode, error) {
	if len(targets) == 0 && len(sources) > 0 {
		return nil, fmt.Errorf("%w: the datacenter has no node to restore the backup's %d into", ErrTooFewNodes, len(sources))
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
	racks, err := rackMapping(src, tgt, opts.RackMap)
	if err != nil {
		return nil, err
	}
	if racks == nil {
		return spread(tgt, src), nil
	}
	bySrc := map[string][]SourceNode{}
	for _, s := range src {
		bySrc[racks[s.Rack]] = append(bySrc[racks[s.Rack]], s)
	}
	byTgt := map[string][]Target{}
	for _, t := range tgt {
		byTgt[t.Rack] = append(byTgt[t.Rack], t)
	}
	room := true // every mapped rack has pods: rackMapping maps only onto racks with pods
	for r, ss := range bySrc {
		room = room && len(byTgt[r]) >= len(ss)
	}
	if !room && len(opts.RackMap) == 0 && len(tgt) >= len(src) {
		return spread(tgt, src), nil
	}
	out := map[string][]SourceNode{}
	for r, ss := range bySrc {
		for pod, s := range spread(byTgt[r], ss) {
			out[pod] = s
		}
	}
	return out, nil
}

// spread gives each target its share of the sources, in order: one each while there are
// enough targets, else contiguous runs whose sizes differ by at most one (the first
// targets take the remainder).
func spread(tgt []Target, src []SourceNode) map[string][]SourceNode {
	out := map[string][]SourceNode{}
	if len(tgt) >= len(src) {
		for i, s := range src {
			out[tgt[i].Pod] = []SourceNode{s}
		}
		return out
	}
	next := 0
	for i, t := range tgt {
		n := len(src) / len(tgt)
		if i < len(src)%len(tgt) {
			n++
		}
		out[t.Pod] = append([]SourceNode(nil), src[next:next+n]...)
		next += n
	}
	return out
}

// rackMapping returns the target rack of each source rack, or nil when racks cannot be
// kept (their counts differ and no rackMap says how).
func rackMapping(src []SourceNode, tgt []Target, rackMap map[string]string) (map[string]string, error) {
	srcRacks := racksOf(len(src), func(i int) string { return src[i].Rack })
	tgtRacks := racksOf(len(tgt), func(i int) string { return tgt[i].Rack })
	has := map[string]bool{}
	for _, r := range tgtRacks {
		has[r] = true
	}
	out := map[string]string{}
	if len(rackMap) > 0 {
		for _, r := range srcRacks {
			to, ok := rackMap[r]
			if !ok {
				return nil, fmt.Errorf("%w: spec.restore.rackMap has no entry for the backup's rack %s (the backup's racks: %s)", ErrRackUnmapped, r, strings.Join(srcRacks, ", "))
			}
			if !has[to] {
				return nil, fmt.Errorf("%w: spec.restore.rackMap maps rack %s to %s, which is not a rack of the datacenter's pods (%s)", ErrRackUnmapped, r, to, strings.Join(tgtRacks, ", "))
			}
			out[r] = to
		}
		return out, nil
	}
	same := true
	for _, r := range srcRacks {
		same = same && has[r]
		out[r] = r
	}
	if same {
		return out, nil
	}
	if len(srcRacks) != len(tgtRacks) {
		return nil, nil
	}
	for i, r := range srcRacks {
		out[r] = tgtRacks[i]
	}
	return out, nil
}

// racksOf returns the distinct racks of a list sorted by rack.
func racksOf(n int, rack func(int) string) []string {
	var out []string
	for i := range n {
		if i == 0 || rack(i-1) != rack(i) {
			out = append(out, rack(i))
		}
	}
	return out
}

func hostnames(ss []SourceNode) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Hostname)
	}
	return strings.Join(out, ", ")
}
