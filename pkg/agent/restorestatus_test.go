package agent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// The init container's API shows the restore with its live counts to an authenticated
// caller, and nothing else: no token is refused, submissions and cancels are not served.
func TestRestoreStatusReadOnly(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := &Tracker{}
	tr.AddTotal(4, 4000)
	s := NewRestoreStatus(api.Request{Type: api.TypeRestore, StorageLocation: "s3://b", SnapshotTag: "t"}, tr, BearerFile(tok))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	do := func(method, path string, auth bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		if auth {
			req.Header.Set("Authorization", "Bearer s3cret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := do("GET", "/operations", false); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	if r := do("GET", "/healthz", false); r.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", r.StatusCode)
	}
	for _, m := range []string{"POST", "DELETE", "PUT"} {
		if r := do(m, "/operations", true); r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /operations: %d, want 405", m, r.StatusCode)
		}
	}
	tr.Transferred(1000)
	tr.Skipped(500)
	var ops []api.Operation
	if err := json.NewDecoder(do("GET", "/operations?type=restore", true).Body).Decode(&ops); err != nil || len(ops) != 1 {
		t.Fatalf("list: %v %+v", err, ops)
	}
	op := ops[0]
	if op.State != api.StateRunning || op.BytesTotal != 4000 || op.BytesTransferred != 1000 || op.BytesSkipped != 500 || op.FilesTotal != 4 {
		t.Fatalf("operation %+v", op)
	}
	if err := json.NewDecoder(do("GET", "/operations?type=backup", true).Body).Decode(&ops); err != nil || len(ops) != 0 {
		t.Fatalf("type=backup: %v %+v", err, ops)
	}
	if r := do("GET", "/operations/"+op.ID, true); r.StatusCode != http.StatusOK {
		t.Fatalf("get by id: %d", r.StatusCode)
	}
	if r := do("DELETE", "/operations/"+op.ID, true); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("cancel: %d, want 405", r.StatusCode)
	}
}
