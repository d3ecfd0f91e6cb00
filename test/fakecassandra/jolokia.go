package fakecassandra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
)

// request is a Jolokia request as it arrives, arguments still raw.
type request struct {
	Type      string            `json:"type"`
	MBean     string            `json:"mbean"`
	Attribute string            `json:"attribute,omitempty"`
	Operation string            `json:"operation,omitempty"`
	Arguments []json.RawMessage `json:"arguments,omitempty"`
}

// failure is a Jolokia error: an HTTP-like status and a Java exception.
type failure struct {
	status int
	class  string
	msg    string
}

func (n *Node) serveJolokia(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "the fake supports POST requests only", http.StatusMethodNotAllowed)
		return
	}
	n.mu.Lock()
	if n.agents == nil {
		n.agents = map[string]int{}
	}
	n.agents[r.UserAgent()]++
	n.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var reqs []json.RawMessage
		if err := json.Unmarshal(body, &reqs); err != nil {
			json.NewEncoder(w).Encode(errorResponse(nil, failure{400, "java.lang.IllegalArgumentException", "Invalid JSON request: " + err.Error()}))
			return
		}
		out := make([]map[string]any, len(reqs))
		for i, raw := range reqs {
			out[i] = n.handle(raw)
		}
		json.NewEncoder(w).Encode(out)
		return
	}
	json.NewEncoder(w).Encode(n.handle(body))
}

func errorResponse(req json.RawMessage, f failure) map[string]any {
	return map[string]any{"request": req, "status": f.status, "error_type": f.class, "error": f.class + " : " + f.msg}
}

func (n *Node) handle(raw json.RawMessage) map[string]any {
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return errorResponse(raw, failure{400, "java.lang.IllegalArgumentException", "Invalid JSON request: " + err.Error()})
	}
	n.mu.Lock()
	hook := n.hook
	n.mu.Unlock()
	if hook != nil {
		args := make([]any, len(req.Arguments))
		for i, a := range req.Arguments {
			json.Unmarshal(a, &args[i])
		}
		if err := hook(jolokia.Request{Type: req.Type, MBean: req.MBean, Attribute: req.Attribute, Operation: req.Operation, Arguments: args}); err != nil {
			return errorResponse(raw, failure{500, "java.io.IOException", err.Error()})
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var (
		value any
		f     *failure
	)
	switch req.Type {
	case "read":
		n.calls[req.Attribute]++
		value, f = n.read(req)
	case "exec":
		name, _, _ := strings.Cut(req.Operation, "(")
		n.calls[name]++
		value, f = n.exec(req)
	case "version":
		value = map[string]any{"agent": "1.7.2", "protocol": "7.2", "config": map[string]any{}, "info": map[string]any{"product": "fakecassandra"}}
	default:
		f = &failure{400, "java.lang.IllegalArgumentException", fmt.Sprintf("Type %q is not supported by the fake", req.Type)}
	}
	if f != nil {
		return errorResponse(raw, *f)
	}
	return map[string]any{"request": raw, "value": value, "timestamp": time.Now().Unix(), "status": 200}
}

// objectName parses an MBean object name into its domain and key properties.
func objectName(s string) (string, map[string]string) {
	domain, rest, _ := strings.Cut(s, ":")
	props := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(kv, "=")
		props[k] = v
	}
	return domain, props
}

func notFound(mbean string) *failure {
	return &failure{404, "javax.management.InstanceNotFoundException", mbean}
}

func (n *Node) read(req request) (any, *failure) {
	switch req.MBean {
	case jolokia.StorageServiceMBean:
		switch req.Attribute {
		case "Tokens":
			return n.tokens, nil
		case "LocalHostId":
			return n.hostID, nil
		case "SchemaVersion":
			return n.schemaVersion(), nil
		case "ClusterName":
			return n.cfg.ClusterName, nil
		case "OperationMode":
			return "NORMAL", nil
		case "ReleaseVersion":
			return n.cfg.Release, nil
		case "PartitionerName":
			return "org.apache.cassandra.dht.Murmur3Partitioner", nil
		case "Keyspaces":
			return n.keyspaces(), nil
		case "AllDataFileLocations":
			return n.cfg.DataDirs, nil
		}
	case jolokia.EndpointSnitchMBean:
		switch req.Attribute {
		case "Datacenter":
			return n.cfg.Datacenter, nil
		case "Rack":
			return n.cfg.Rack, nil
		}
	default:
		return nil, notFound(req.MBean)
	}
	return nil, &failure{404, "javax.management.AttributeNotFoundException", fmt.Sprintf("No such attribute: %s", req.Attribute)}
}

// overloaded lists the operations Jolokia cannot call without a signature.
var overloaded = map[string][]string{
	"takeSnapshot": {
		"takeSnapshot(java.lang.String,java.util.Map,[Ljava.lang.String;)",
		"takeSnapshot(java.lang.String,[Ljava.lang.String;)",
	},
	"clearSnapshot": {
		"clearSnapshot(java.lang.String,[Ljava.lang.String;)",
		"clearSnapshot(java.util.Map,java.lang.String,[Ljava.lang.String;)",
	},
}

func (n *Node) exec(req request) (any, *failure) {
	domain, props := objectName(req.MBean)
	name, _, hasSig := strings.Cut(req.Operation, "(")
	if sigs, ok := overloaded[name]; ok && !hasSig && req.MBean == jolokia.StorageServiceMBean {
		return nil, &failure{400, "java.lang.IllegalArgumentException",
			fmt.Sprintf("Operation %s on MBean %s is overloaded. Signatures found: %s. Please use a signature to select the proper operation", name, req.MBean, strings.Join(sigs, ", "))}
	}
	args := req.Arguments
	noOp := &failure{400, "java.lang.IllegalArgumentException", fmt.Sprintf("No operation %s found on MBean %s", req.Operation, req.MBean)}
	switch {
	case req.MBean == jolokia.StorageServiceMBean:
		switch req.Operation {
		case "takeSnapshot(java.lang.String,java.util.Map,[Ljava.lang.String;)":
			if len(args) != 3 {
				return nil, argCount(req, 3)
			}
			var tag string
			var opts map[string]string
			var entities []string
			if f := decode(args[0], &tag); f != nil {
				return nil, f
			}
			if f := decode(args[1], &opts); f != nil {
				return nil, f
			}
			if f := decodeStrings(args[2], &entities); f != nil {
				return nil, f
			}
			return nil, thrown(n.snapshot(tag, opts, entities))
		case "takeSnapshot(java.lang.String,[Ljava.lang.String;)":
			if len(args) != 2 {
				return nil, argCount(req, 2)
			}
			var tag string
			var keyspaces []string
			if f := decode(args[0], &tag); f != nil {
				return nil, f
			}
			if f := decodeStrings(args[1], &keyspaces); f != nil {
				return nil, f
			}
			return nil, thrown(n.snapshot(tag, nil, keyspaces))
		case "clearSnapshot(java.lang.String,[Ljava.lang.String;)":
			if len(args) != 2 {
				return nil, argCount(req, 2)
			}
			var tag string
			var keyspaces []string
			if f := decode(args[0], &tag); f != nil {
				return nil, f
			}
			if f := decodeStrings(args[1], &keyspaces); f != nil {
				return nil, f
			}
			return nil, thrown(n.clearSnapshot(tag, keyspaces))
		case "forceKeyspaceFlush", "forceKeyspaceFlush(java.lang.String,[Ljava.lang.String;)":
			if len(args) != 2 {
				return nil, argCount(req, 2)
			}
			var ks string
			var tables []string
			if f := decode(args[0], &ks); f != nil {
				return nil, f
			}
			if f := decodeStrings(args[1], &tables); f != nil {
				return nil, f
			}
			sel, err := n.selectTables(keyspaceEntity(ks, tables))
			if err != nil {
				return nil, thrown(err)
			}
			return nil, thrown(n.flush(sel))
		case "loadNewSSTables", jolokia.OpLoadNewSSTables:
			return nil, n.onTable(req, args, n.loadNewSSTables)
		case jolokia.OpTruncate:
			return nil, n.onTable(req, args, n.truncate)
		}
		return nil, noOp
	case domain == "org.apache.cassandra.db" && (props["type"] == "Tables" || props["type"] == "ColumnFamilies"):
		tn := props["table"]
		if props["type"] == "ColumnFamilies" {
			tn = props["columnfamily"]
		}
		t, ok := n.tables[props["keyspace"]+"."+tn]
		if !ok {
			return nil, notFound(req.MBean)
		}
		switch {
		case req.Operation == "loadNewSSTables" || req.Operation == "loadNewSSTables()":
			if len(args) != 0 {
				return nil, argCount(req, 0)
			}
			return nil, thrown(n.loadNewSSTables(t))
		case n.legacy():
			// Cassandra 3.x has no importNewSSTables: Jolokia finds no such operation.
		case req.Operation == "importNewSSTables" || req.Operation == jolokia.OpImportNewSSTables:
			if len(args) != 7 {
				return nil, argCount(req, 7)
			}
			var paths []string
			if f := decodeStrings(args[0], &paths); f != nil {
				return nil, f
			}
			flags := make([]bool, 6)
			for i := range flags {
				if f := decode(args[i+1], &flags[i]); f != nil {
					return nil, f
				}
			}
			return nonNilStrings(n.importSSTables(t, paths, flags[2])), nil
		}
		return nil, noOp
	}
	return nil, notFound(req.MBean)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func argCount(req request, want int) *failure {
	return &failure{400, "java.lang.IllegalArgumentException",
		fmt.Sprintf("Invalid number of operation arguments. Operation %s on %s requires %d parameters, not %d as given", req.Operation, req.MBean, want, len(req.Arguments))}
}

func decode(raw json.RawMessage, v any) *failure {
	if err := json.Unmarshal(raw, v); err != nil {
		return &failure{400, "java.lang.IllegalArgumentException", fmt.Sprintf("Cannot convert %s: %v", raw, err)}
	}
	return nil
}

// decodeStrings accepts a JSON array, null, or a comma-separated string, as Jolokia does for arrays.
func decodeStrings(raw json.RawMessage, out *[]string) *failure {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s != "" {
			*out = strings.Split(s, ",")
		}
		return nil
	}
	return decode(raw, out)
}

func thrown(err error) *failure {
	if err == nil {
		return nil
	}
	if je, ok := err.(*javaError); ok {
		return &failure{500, je.class, je.message}
	}
	return &failure{500, "java.lang.RuntimeException", err.Error()}
}

// onTable runs fn on the table named by the (keyspace, table) arguments of a
// StorageService operation.
func (n *Node) onTable(req request, args []json.RawMessage, fn func(*table) error) *failure {
	if len(args) != 2 {
		return argCount(req, 2)
	}
	var ks, tn string
	if f := decode(args[0], &ks); f != nil {
		return f
	}
	if f := decode(args[1], &tn); f != nil {
		return f
	}
	sel, err := n.selectTables([]string{ks + "." + tn})
	if err != nil {
		return thrown(err)
	}
	return thrown(fn(sel[0]))
}
