package verify

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MaxFailures is how many failures a node result lists; more are only counted.
const MaxFailures = 20

// TerminationMessageLimit is the size a container's termination message is cut to (4 KiB):
// Summary never goes beyond it.
const TerminationMessageLimit = 4096

// maxText bounds one key or reason in a summary.
const maxText = 256

// Failure is one object or check that failed.
type Failure struct {
	// Key is the bucket key of the object, or of the manifest or topology checked.
	Key string `json:"key"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

// NodeResult is one node's verification.
type NodeResult struct {
	// Node is the host name the topology records.
	Node string `json:"node"`
	// HostID is the node's host id.
	HostID string `json:"hostId,omitempty"`
	// Total is the number of objects the node's manifest lists.
	Total int64 `json:"total"`
	// Objects is the number of objects downloaded and checked.
	Objects int64 `json:"objects"`
	// Bytes is the number of bytes downloaded and checked.
	Bytes int64 `json:"bytes"`
	// FailureCount counts the failures; Failures lists the first MaxFailures.
	FailureCount int64 `json:"failureCount"`
	// Failures are the first failures.
	Failures []Failure `json:"failures,omitempty"`
}

// fail records a failure.
func (n *NodeResult) fail(key, format string, args ...any) {
	n.FailureCount++
	if len(n.Failures) < MaxFailures {
		n.Failures = append(n.Failures, Failure{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
}

// Result is a backup's verification.
type Result struct {
	// Topology is the key of the topology verified.
	Topology string `json:"topology,omitempty"`
	// Nodes are the datacenter's nodes, in topology order.
	Nodes []NodeResult `json:"nodes"`
	// Backup holds the failures of checks across nodes (topology, tokens); its Node is empty.
	Backup NodeResult `json:"backup"`
}

// Failed reports whether anything failed.
func (r *Result) Failed() bool {
	if r.Backup.FailureCount > 0 {
		return true
	}
	for _, n := range r.Nodes {
		if n.FailureCount > 0 {
			return true
		}
	}
	return false
}

// Totals sums the nodes' objects, bytes and failures (the backup's failures included).
func (r *Result) Totals() (objects, bytes, failures int64) {
	failures = r.Backup.FailureCount
	for _, n := range r.Nodes {
		objects += n.Objects
		bytes += n.Bytes
		failures += n.FailureCount
	}
	return objects, bytes, failures
}

// Message is a one-line account of the result: the counts, and the first failure.
func (r *Result) Message() string {
	objects, bytes, failures := r.Totals()
	if failures == 0 {
		return fmt.Sprintf("%d objects (%d bytes) of %d nodes verified", objects, bytes, len(r.Nodes))
	}
	first := r.Backup.Failures
	for _, n := range r.Nodes {
		first = append(first, n.Failures...)
	}
	msg := fmt.Sprintf("%d failures in %d objects checked", failures, objects)
	if len(first) > 0 {
		msg += fmt.Sprintf("; first: %s: %s", first[0].Key, first[0].Reason)
	}
	return msg
}

// Summary encodes the result as JSON of at most TerminationMessageLimit bytes: long keys
// and reasons are shortened, then failures are dropped from the end of the longest lists
// (the counts stay) until it fits.
func Summary(r Result) []byte {
	r = clone(r)
	lists := []*[]Failure{&r.Backup.Failures}
	for i := range r.Nodes {
		lists = append(lists, &r.Nodes[i].Failures)
	}
	for _, l := range lists {
		for i := range *l {
			(*l)[i].Key = shorten((*l)[i].Key)
			(*l)[i].Reason = shorten((*l)[i].Reason)
		}
	}
	for {
		b, _ := json.Marshal(r)
		if len(b) <= TerminationMessageLimit {
			return b
		}
		longest := lists[0]
		for _, l := range lists {
			if len(*l) > len(*longest) {
				longest = l
			}
		}
		if len(*longest) == 0 {
			// Only the node list itself is too long: keep the counts of the first nodes.
			r.Nodes = r.Nodes[:len(r.Nodes)-1]
			lists = lists[:len(lists)-1]
			continue
		}
		*longest = (*longest)[:len(*longest)-1]
	}
}

// ParseSummary decodes what Summary wrote.
func ParseSummary(b []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("verification summary: %w", err)
	}
	return r, nil
}

func shorten(s string) string {
	if len(s) <= maxText {
		return s
	}
	return s[:maxText/2-2] + "…" + s[len(s)-maxText/2+2:]
}

func clone(r Result) Result {
	out := r
	out.Backup.Failures = append([]Failure(nil), r.Backup.Failures...)
	out.Nodes = append([]NodeResult(nil), r.Nodes...)
	for i := range out.Nodes {
		out.Nodes[i].Failures = append([]Failure(nil), r.Nodes[i].Failures...)
	}
	return out
}

// oneLine makes an error message fit a status field.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
