package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// progress is what the progress annotation holds: the state of each handler of the
// cause being handled, for the essence whose digest it names.
type progress struct {
	// Digest names the essence (or "delete") the records belong to.
	Digest string `json:"digest"`
	// Handlers maps handler ids to their records.
	Handlers map[string]handlerRecord `json:"handlers,omitempty"`
}

// handlerRecord is one handler's persisted progress.
type handlerRecord struct {
	// Done is set once the handler succeeded.
	Done bool `json:"done,omitempty"`
	// Failed is set when the handler failed permanently at Generation.
	Failed bool `json:"failed,omitempty"`
	// Generation is the metadata.generation a permanent failure happened at.
	Generation int64 `json:"generation,omitempty"`
	// Message is the permanent failure's message.
	Message string `json:"message,omitempty"`
	// Reason is the permanent failure's reason, when it has one (WithReason).
	Reason string `json:"reason,omitempty"`
}

// parseProgress reads the progress annotation; anything unreadable counts as no progress.
func parseProgress(s string) progress {
	var p progress
	if s == "" || json.Unmarshal([]byte(s), &p) != nil {
		return progress{}
	}
	return p
}

func (p progress) encode() string {
	b, _ := json.Marshal(p)
	return string(b)
}

func (p progress) empty() bool { return len(p.Handlers) == 0 }

// document is an object decoded from JSON.
type document map[string]any

// toDocument decodes obj as generic JSON.
func toDocument(obj any) (document, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	var d document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	return d, nil
}

// lookup returns the value at a dotted path, or nil when a part is missing.
func lookup(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// essence returns the fields at paths of d as a map from path to value; missing fields
// are left out.
func essence(d document, paths []string) map[string]any {
	out := make(map[string]any, len(paths))
	for _, p := range paths {
		if v := lookup(map[string]any(d), p); v != nil {
			out[p] = v
		}
	}
	return out
}

// encodeEssence is the canonical JSON of an essence (encoding/json sorts map keys).
func encodeEssence(e map[string]any) string {
	b, _ := json.Marshal(e)
	return string(b)
}

// decodeEssence reads a last-handled annotation; ok is false when it cannot be read.
func decodeEssence(s string) (map[string]any, bool) {
	var e map[string]any
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return nil, false
	}
	if e == nil {
		e = map[string]any{}
	}
	return e, true
}

// digest is a short hash of an encoded essence.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// fieldValue returns the value at a dotted path inside an essence keyed by essence paths.
func fieldValue(e map[string]any, path string) any {
	for root, v := range e {
		if path == root {
			return v
		}
		if strings.HasPrefix(path, root+".") {
			return lookup(v, strings.TrimPrefix(path, root+"."))
		}
	}
	return nil
}

// equal compares two decoded JSON values.
func equal(a, b any) bool { return reflect.DeepEqual(a, b) }

// olderThan reports whether resource version a is known to precede b. Resource versions
// are opaque to clients; etcd-backed servers use increasing integers, and anything else
// is treated as unknown (false).
func olderThan(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}
