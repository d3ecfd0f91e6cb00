package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// env is a fake node with an agent and its API server on 127.0.0.1.
type env struct {
	t      *testing.T
	node   *fakecassandra.Node
	agent  *Agent
	server *Server
	url    string
	loc    string // storage location of a file:// bucket
	bucket string // the bucket's directory
}

func newEnv(t *testing.T, cfg fakecassandra.Config) *env {
	t.Helper()
	n := fakecassandra.New(t, cfg)
	dir := t.TempDir()
	e := &env{t: t, node: n, loc: "file://" + dir + "/backups", bucket: filepath.Join(dir, "backups")}
	e.agent = &Agent{Node: n.Client(), Hostname: "node-0"}
	ctx, cancel := context.WithCancel(context.Background())
	e.server = NewServer(ctx, e.agent)
	hs := httptest.NewServer(e.server.Handler())
	t.Cleanup(func() {
		cancel()
		e.server.Wait()
		hs.Close()
	})
	e.url = hs.URL
	return e
}

// populate writes user data: ks1.t1 (three SSTables and an index), ks1.t2 and ks2.t3.
func (e *env) populate() {
	e.t.Helper()
	for i := 0; i < 2; i++ {
		if err := e.node.WriteSSTable("ks1", "t1", 20000+i*70000); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.node.CreateIndex("ks1", "t1", "t1_value_idx"); err != nil {
		e.t.Fatal(err)
	}
	for _, w := range []struct {
		ks, t string
		n     int
	}{{"ks1", "t1", 5000}, {"ks1", "t2", 3000}, {"ks2", "t3", 1000}} {
		if err := e.node.WriteSSTable(w.ks, w.t, w.n); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) request(typ, tag string) api.Request {
	return api.Request{Type: typ, StorageLocation: e.loc, SnapshotTag: tag, CreateMissingBucket: true, ConcurrentConnections: 4}
}

// do sends an HTTP request to the API and decodes a JSON answer into out.
func (e *env) do(method, path string, body any, out any) *http.Response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp
}

// submit posts an operation and waits until it ends.
func (e *env) submit(req api.Request) api.Operation {
	e.t.Helper()
	var o api.Operation
	if resp := e.do("POST", "/operations", req, &o); resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("POST /operations: %d %+v", resp.StatusCode, o)
	}
	return e.wait(o.ID)
}

// wait polls an operation until it is final.
func (e *env) wait(id string) api.Operation {
	e.t.Helper()
	return e.waitFor(id, func(o api.Operation) bool { return o.State.Final() })
}

// waitFor polls an operation until cond holds; the test's deadline bounds it.
func (e *env) waitFor(id string, cond func(api.Operation) bool) api.Operation {
	e.t.Helper()
	for {
		var o api.Operation
		if resp := e.do("GET", "/operations/"+id, nil, &o); resp.StatusCode != http.StatusOK {
			e.t.Fatalf("GET /operations/%s: %d", id, resp.StatusCode)
		}
		if cond(o) {
			return o
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// liveFiles returns the SSTable files of the live tables keep selects: path relative to
// the data dir → bytes.
func liveFiles(t *testing.T, dataDirs []string, keep func(ks, table string) bool) map[string][]byte {
	t.Helper()
	out, err := fakecassandra.DataFiles(dataDirs, keep)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func all(string, string) bool { return true }

// fileAgent is an agent for restores into local directories (no node needed).
func fileAgent() *Agent {
	return &Agent{Hostname: "restore", Credentials: storage.StaticCredentials(nil)}
}
