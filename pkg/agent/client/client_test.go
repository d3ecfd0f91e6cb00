package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	_ "github.com/cassbackup/cassandra-backup-operator/pkg/storage/file"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestClientAgainstAgent drives a real agent server: submit, get, list, cancel and the
// errors for unknown operations and refused requests.
func TestClientAgainstAgent(t *testing.T) {
	node := fakecassandra.New(t, fakecassandra.Config{})
	if err := node.WriteSSTable("ks1", "t1", 5000); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := agent.NewServer(ctx, &agent.Agent{Node: node.Client(), Hostname: "node-0"})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { cancel(); srv.Wait(); hs.Close() })

	c := &Client{}
	loc := "file://" + filepath.Join(t.TempDir(), "bucket")
	op, err := c.Submit(context.Background(), hs.URL, api.Request{Type: api.TypeBackup, StorageLocation: loc, SnapshotTag: "s1", CreateMissingBucket: true})
	if err != nil || op.ID == "" {
		t.Fatalf("submit: %+v %v", op, err)
	}
	end := time.Now().Add(time.Minute)
	for !op.State.Final() {
		if time.Now().After(end) {
			t.Fatalf("operation did not end: %+v", op)
		}
		time.Sleep(20 * time.Millisecond)
		if op, err = c.Get(context.Background(), hs.URL, op.ID); err != nil {
			t.Fatal(err)
		}
	}
	if op.State != api.StateCompleted || op.BytesTotal == 0 || op.BytesTransferred != op.BytesTotal {
		t.Fatalf("operation: %+v", op)
	}
	if op.HostID != node.HostID() || op.SchemaVersion != node.SchemaVersion() {
		t.Errorf("the operation names host %q, schema %q; the node is %q, %q", op.HostID, op.SchemaVersion, node.HostID(), node.SchemaVersion())
	}
	ops, err := c.List(context.Background(), hs.URL, api.TypeBackup)
	if err != nil || len(ops) != 1 || ops[0].ID != op.ID || ops[0].SnapshotTag != "s1" {
		t.Fatalf("list: %+v %v", ops, err)
	}
	if err := c.Cancel(context.Background(), hs.URL, op.ID); err != nil {
		t.Errorf("cancel of an ended operation: %v", err)
	}
	if _, err := c.Get(context.Background(), hs.URL, "no-such-id"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get unknown: %v, want ErrNotFound", err)
	}
	if err := c.Cancel(context.Background(), hs.URL, "no-such-id"); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancel unknown: %v, want ErrNotFound", err)
	}
	_, err = c.Submit(context.Background(), hs.URL, api.Request{Type: api.TypeBackup, StorageLocation: loc, SnapshotTag: "a b"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Message == "" {
		t.Errorf("refused request: %v", err)
	}
	if _, err := c.Get(context.Background(), "http://127.0.0.1:1", "x"); err == nil {
		t.Error("an unreachable agent answered")
	}
}

// TestClientIdentity reads a real agent's identity: what the node reports, with and
// without the bearer token, and the error for an agent without the endpoint (Icarus).
func TestClientIdentity(t *testing.T) {
	dirs := []string{filepath.Join(t.TempDir(), "data")}
	node := fakecassandra.New(t, fakecassandra.Config{ClusterName: "c1", Datacenter: "dc2", Rack: "r3", Release: "4.1.5", DataDirs: dirs, NumTokens: 4})
	srv := agent.NewServer(context.Background(), &agent.Agent{Node: node.Client(), Hostname: "node-0"})
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Guard = agent.BearerFile(tok)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	ctx := context.Background()
	var apiErr *APIError
	if _, err := (&Client{}).Identity(ctx, hs.URL); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Errorf("identity without the token: %v, want 401", err)
	}
	id, err := (&Client{Token: "s3cret"}).Identity(ctx, hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	want := api.Identity{HostID: node.HostID(), Cluster: "c1", Datacenter: "dc2", Rack: "r3", Tokens: node.Tokens(),
		Release: "4.1.5", SchemaVersion: node.SchemaVersion(), DataDirs: dirs,
		Partitioner: "org.apache.cassandra.dht.Murmur3Partitioner", AgentVersion: id.AgentVersion}
	if !reflect.DeepEqual(id, want) || id.AgentVersion == "" {
		t.Errorf("identity:\n got %+v\nwant %+v", id, want)
	}

	icarus := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(icarus.Close)
	_, err = (&Client{}).Identity(ctx, icarus.URL)
	if !errors.Is(err, ErrNoIdentity) || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "Icarus") {
		t.Errorf("an agent without /identity: %v, want ErrNoIdentity", err)
	}
}
