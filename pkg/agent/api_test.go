package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

func TestAPIContract(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()

	var created map[string]any
	resp := e.do("POST", "/operations", e.request(api.TypeBackup, "api1"), &created)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	id, _ := created["id"].(string)
	if loc := resp.Header.Get("Location"); loc != "/operations/"+id || id == "" {
		t.Errorf("Location %q for id %q", loc, id)
	}
	for _, f := range []string{"type", "id", "creationTime", "state", "errors", "progress", "storageLocation", "snapshotTag", "concurrentConnections", "createMissingBucket", "bytesTotal", "bytesTransferred", "filesTotal"} {
		if _, ok := created[f]; !ok {
			t.Errorf("created operation lacks %s: %v", f, created)
		}
	}
	if s := created["state"]; s != "PENDING" && s != "RUNNING" {
		t.Errorf("created state %v", s)
	}
	o := e.wait(id)
	if o.State != api.StateCompleted || o.Progress != 1 || len(o.Errors) != 0 || o.StartTime == nil || o.CompletionTime == nil {
		t.Fatalf("finished operation: %+v", o)
	}
	if o.BytesTotal == 0 || o.BytesTransferred != o.BytesTotal || o.FilesTransferred != o.FilesTotal {
		t.Errorf("byte counts: %+v", o.Transfer)
	}

	var list []api.Operation
	if resp := e.do("GET", "/operations?type=backup&state=RUNNING&state=COMPLETED", nil, &list); resp.StatusCode != 200 || len(list) != 1 || list[0].ID != id {
		t.Errorf("list backup/completed: %d %v", resp.StatusCode, list)
	}
	list = nil
	if e.do("GET", "/operations?type=restore", nil, &list); len(list) != 0 {
		t.Errorf("list restore: %v", list)
	}
	list = nil
	if e.do("GET", "/operations", nil, &list); len(list) != 1 {
		t.Errorf("list all: %v", list)
	}

	var status map[string]string
	if resp := e.do("GET", "/status", nil, &status); resp.StatusCode != 200 || status["nodeState"] != "NORMAL" {
		t.Errorf("status: %d %v", resp.StatusCode, status)
	}

	tests := []struct {
		method, path string
		body         any
		code         int
		msg          string
	}{
		{"GET", "/operations/00000000-0000-0000-0000-000000000000", nil, 404, "not found"},
		{"DELETE", "/operations/00000000-0000-0000-0000-000000000000", nil, 404, "not found"},
		{"GET", "/operations?state=DONE", nil, 400, "state"},
		{"GET", "/operations?kind=backup", nil, 400, "kind"},
		{"POST", "/operations", `{"type":"backup","storageLocation":"` + e.loc + `","snapshotTag":"x","bogus":1}`, 400, "bogus"},
		{"POST", "/operations", `{"type":"backup","storageLocation":"` + e.loc + `","snapshotTag":"x","concurrentConnections":"ten"}`, 400, "concurrentConnections"},
		{"POST", "/operations", `{"type":"backup","storageLocation":"` + e.loc + `","snapshotTag":"x"`, 400, "malformed"},
		{"POST", "/operations", `{"type":"compact","storageLocation":"` + e.loc + `","snapshotTag":"x"}`, 400, "type"},
		{"POST", "/operations", `{"type":"backup","storageLocation":"ftp://b","snapshotTag":"x"}`, 400, "storageLocation"},
		{"POST", "/operations", `{"type":"backup","storageLocation":"` + e.loc + `","snapshotTag":"a/b"}`, 400, "snapshotTag"},
		{"POST", "/operations", `{"type":"backup","storageLocation":"` + e.loc + `","snapshotTag":"x","entities":"ks.t.x"}`, 400, "entities"},
		{"POST", "/operations", `{"type":"backup","storageLocation":"` + e.loc + `","snapshotTag":"x","bandwidth":{"value":1,"unit":"XBPS"}}`, 400, "bandwidth"},
		{"POST", "/operations", `{"type":"backup","storageLocation":"` + e.loc + `","snapshotTag":"x","metadataDirective":"MOVE"}`, 400, "metadataDirective"},
	}
	for _, tt := range tests {
		var body map[string]any
		resp := e.do(tt.method, tt.path, tt.body, &body)
		msg, _ := body["message"].(string)
		if resp.StatusCode != tt.code || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s %s %v: %d %q, want %d containing %q", tt.method, tt.path, tt.body, resp.StatusCode, msg, tt.code, tt.msg)
		}
	}
}

func TestAPIFailedOperation(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	req := e.request(api.TypeBackup, "nobucket")
	req.CreateMissingBucket = false
	o := e.submit(req)
	if o.State != api.StateFailed || len(o.Errors) != 1 || o.Errors[0].Source != "node-0" || !strings.Contains(o.Errors[0].Message, "createMissingBucket") || o.Progress >= 1 {
		t.Errorf("operation against a missing bucket: %+v", o)
	}
	if e.node.SnapshotExists("nobucket") {
		t.Error("snapshot left behind")
	}
}

func TestAPIBearerToken(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.server.Guard = BearerFile(tok)
	for _, tt := range []struct {
		header string
		code   int
	}{{"", 401}, {"Bearer wrong", 401}, {"Basic s3cret", 401}, {"Bearer s3cret", 200}} {
		req, _ := http.NewRequest("GET", e.url+"/status", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("Authorization %q: %d, want %d", tt.header, resp.StatusCode, tt.code)
		}
	}
	if err := os.WriteFile(tok, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.url+"/status", nil)
	req.Header.Set("Authorization", "Bearer rotated")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("rotated token: %d", resp.StatusCode)
	}
}

func TestAPICancel(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	req := e.request(api.TypeBackup, "slow")
	req.Bandwidth = &api.Bandwidth{Value: 1, Unit: "KBPS"} // hours for this data: only a cancel ends it
	var o api.Operation
	if resp := e.do("POST", "/operations", req, &o); resp.StatusCode != 201 {
		t.Fatal(resp.StatusCode)
	}
	e.waitFor(o.ID, func(o api.Operation) bool { return o.BytesTransferred > 0 })
	if resp := e.do("DELETE", "/operations/"+o.ID, nil, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	o = e.wait(o.ID)
	if o.State != api.StateCancelled || o.Progress >= 1 {
		t.Errorf("cancelled operation: %+v", o)
	}
	if e.node.SnapshotExists("slow") {
		t.Error("snapshot left behind after cancel")
	}
	manifests, _ := filepath.Glob(filepath.Join(e.bucket, "*", "*", "*", "manifests", "*"))
	if len(manifests) != 0 {
		t.Errorf("manifest written by a cancelled backup: %v", manifests)
	}
}

func TestAPIFinishedOperationsExpire(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.server.TTL = time.Nanosecond
	var o api.Operation
	if resp := e.do("POST", "/operations", e.request(api.TypeBackup, "x"), &o); resp.StatusCode != http.StatusCreated {
		t.Fatal(resp.StatusCode)
	}
	e.server.Wait()
	if resp := e.do("GET", "/operations/"+o.ID, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("expired operation: %d, want 404", resp.StatusCode)
	}
}

// TestAPIIdentityAndProbes: /identity answers the node's identity behind the bearer check;
// /healthz and /readyz answer without it and reveal no node detail; /healthz does not
// depend on the node, /readyz does; a backup operation names the host and schema it backed up.
func TestAPIIdentityAndProbes(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{ClusterName: "c1", Datacenter: "dc2", Rack: "r3", NumTokens: 2})
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.server.Guard = BearerFile(tok)
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/identity", ""); code != http.StatusUnauthorized {
		t.Errorf("identity without the token: %d, want 401", code)
	}
	code, body := get("/identity", "s3cret")
	var id api.Identity
	if err := json.Unmarshal([]byte(body), &id); err != nil || code != 200 {
		t.Fatalf("identity: %d %s %v", code, body, err)
	}
	if id.HostID != e.node.HostID() || id.Cluster != "c1" || id.Datacenter != "dc2" || id.Rack != "r3" || len(id.Tokens) != 2 ||
		id.Release == "" || id.SchemaVersion != e.node.SchemaVersion() || len(id.DataDirs) == 0 || id.Partitioner == "" || id.AgentVersion == "" {
		t.Errorf("identity: %+v", id)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p, ""); code != 200 || body != "ok" {
			t.Errorf("%s without a token: %d %q, want 200 ok", p, code, body)
		}
	}

	e.server.Guard = nil
	o := e.submit(e.request(api.TypeBackup, "ident"))
	if o.State != api.StateCompleted || o.HostID != e.node.HostID() || o.SchemaVersion != e.node.SchemaVersion() {
		t.Errorf("backup operation: state %s, host %q, schema %q", o.State, o.HostID, o.SchemaVersion)
	}

	e.node.Close() // Cassandra (its Jolokia) is gone; the agent is not
	if code, _ := get("/healthz", ""); code != 200 {
		t.Errorf("healthz with the node down: %d, want 200", code)
	}
	if code, body := get("/readyz", ""); code != http.StatusServiceUnavailable || strings.Contains(body, "127.0.0.1") {
		t.Errorf("readyz with the node down: %d %q, want 503 without details", code, body)
	}
	if code, _ := get("/identity", ""); code != http.StatusServiceUnavailable {
		t.Errorf("identity with the node down: %d, want 503", code)
	}
}
