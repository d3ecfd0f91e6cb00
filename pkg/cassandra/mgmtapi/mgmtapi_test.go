package mgmtapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/jolokia"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra/mgmtapi"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

func TestIdentity(t *testing.T) {
	ctx := context.Background()
	n := fakecassandra.New(t, fakecassandra.Config{ManagementAPI: true, ClusterName: "demo", Datacenter: "dc2", Rack: "r1", Seed: 7, Release: "4.0.13"})
	c := n.ManagementAPIClient()
	tokens, err := c.Tokens(ctx)
	if err != nil || !slices.Equal(tokens, n.Tokens()) {
		t.Errorf("tokens %v, %v; want %v", tokens, err, n.Tokens())
	}
	for name, tc := range map[string]struct {
		get  func(context.Context) (string, error)
		want string
	}{
		"host id":     {c.HostID, n.HostID()},
		"schema":      {c.SchemaVersion, n.SchemaVersion()},
		"cluster":     {c.ClusterName, "demo"},
		"mode":        {c.OperationMode, "NORMAL"},
		"release":     {c.ReleaseVersion, "4.0.13"},
		"partitioner": {c.Partitioner, "org.apache.cassandra.dht.Murmur3Partitioner"},
	} {
		if got, err := tc.get(ctx); err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, tc.want)
		}
	}
	if dc, rack, err := c.Location(ctx); err != nil || dc != "dc2" || rack != "r1" {
		t.Errorf("location %q %q %v", dc, rack, err)
	}
	if dirs, err := c.DataDirs(ctx); err != nil || !slices.Equal(dirs, n.DataDirs()) {
		t.Errorf("data dirs %v %v", dirs, err)
	}
	if _, err := (&mgmtapi.Client{URL: c.URL}).DataDirs(ctx); err == nil {
		t.Error("data dirs without configuration: no error")
	}
}

func TestLocalEndpoint(t *testing.T) {
	peer := map[string]string{"HOST_ID": "a", "IS_LOCAL": "false"}
	self := map[string]string{"HOST_ID": "b", "IS_LOCAL": "true"}
	if e, err := (mgmtapi.EndpointStates{Entity: []map[string]string{peer, self}}).Local(); err != nil || e["HOST_ID"] != "b" {
		t.Errorf("local of two: %v %v", e, err)
	}
	only := map[string]string{"HOST_ID": "c"}
	if e, err := (mgmtapi.EndpointStates{Entity: []map[string]string{only}}).Local(); err != nil || e["HOST_ID"] != "c" {
		t.Errorf("only endpoint: %v %v", e, err)
	}
	unmarked := map[string]string{"HOST_ID": "d"}
	if _, err := (mgmtapi.EndpointStates{Entity: []map[string]string{only, unmarked}}).Local(); err == nil {
		t.Error("two unmarked endpoints: no error")
	}
}

func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	n := fakecassandra.New(t, fakecassandra.Config{ManagementAPI: true})
	c := n.ManagementAPIClient()
	for _, kt := range []string{"ks1.a", "ks1.b", "ks2.c"} {
		ks, tn, _ := strings.Cut(kt, ".")
		if err := n.Write(ks, tn, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx, "ks1", "a"); err != nil {
		t.Fatal(err)
	}
	if ss, _ := n.SSTables("ks1", "a"); len(ss) != 1 {
		t.Errorf("ks1.a: %d SSTables after a flush, want 1", len(ss))
	}
	if ss, _ := n.SSTables("ks1", "b"); len(ss) != 0 {
		t.Errorf("ks1.b: %d SSTables after a flush of ks1.a, want 0", len(ss))
	}
	ks, err := c.Keyspaces(ctx)
	if err != nil || !slices.Contains(ks, "ks1") || !slices.Contains(ks, "ks2") {
		t.Errorf("keyspaces %v %v", ks, err)
	}
	// A whole keyspace and one table: the API takes only one kind, so ks2 becomes its tables.
	if err := c.TakeSnapshot(ctx, "t1", cassandra.Entity{Keyspace: "ks2"}, cassandra.Entity{Keyspace: "ks1", Table: "b"}); err != nil {
		t.Fatal(err)
	}
	for kt, want := range map[string]bool{"ks1.a": false, "ks1.b": true, "ks2.c": true} {
		ks, tn, _ := strings.Cut(kt, ".")
		tb, _ := n.Table(ks, tn)
		got, err := filepath.Glob(filepath.Join(tb.Dirs[0], "snapshots", "t1", "*-Data.db"))
		if err != nil || (len(got) > 0) != want {
			t.Errorf("%s in snapshot t1: %v, want %v", kt, got, want)
		}
	}
	if err := c.TakeSnapshot(ctx, "t1", cassandra.Entity{Keyspace: "ks2"}); !errors.Is(err, cassandra.ErrRefused) {
		t.Errorf("a second snapshot t1: %v, want a refusal", err)
	}
	if err := c.TakeSnapshot(ctx, "t2"); err != nil {
		t.Fatal(err)
	}
	if err := c.ClearSnapshot(ctx, "t1", "ks1"); err != nil {
		t.Fatal(err)
	}
	if !n.SnapshotExists("t1") {
		t.Error("clearing t1 of ks1 removed ks2's")
	}
	if err := c.ClearSnapshot(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if n.SnapshotExists("t1") || !n.SnapshotExists("t2") {
		t.Errorf("after clearing t1: t1 %v, t2 %v", n.SnapshotExists("t1"), n.SnapshotExists("t2"))
	}
	if n.Calls("takeSnapshot") != 3 || n.Calls("clearSnapshot") != 2 || n.Calls("forceKeyspaceFlush") != 1 {
		t.Errorf("calls: snapshot %d, clear %d, flush %d", n.Calls("takeSnapshot"), n.Calls("clearSnapshot"), n.Calls("forceKeyspaceFlush"))
	}
	if _, err := c.ImportSSTables(ctx, "ks1", "a", []string{"/x"}); !errors.Is(err, cassandra.ErrNoImport) || cassandra.CanImport(c) {
		t.Errorf("import: %v, can import %v", err, cassandra.CanImport(c))
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	n := fakecassandra.New(t, fakecassandra.Config{ManagementAPI: true})
	c := n.ManagementAPIClient()
	n.SetHook(func(req jolokia.Request) error {
		if req.Type == "mgmtapi" && req.Operation == "forceKeyspaceFlush" {
			return errors.New("disk full")
		}
		return nil
	})
	err := c.Flush(ctx, "system")
	var apiErr *mgmtapi.Error
	if !errors.Is(err, cassandra.ErrRefused) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusInternalServerError || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failed flush: %v", err)
	}
	if err := (&mgmtapi.Error{Status: http.StatusServiceUnavailable}); errors.Is(err, cassandra.ErrRefused) {
		t.Error("503 counts as refused")
	}
	if err := c.LoadNewSSTables(ctx, "nosuch", "table"); !errors.Is(err, cassandra.ErrRefused) {
		t.Errorf("refresh of a missing table: %v", err)
	}
	n.Close()
	if _, err := c.HostID(ctx); err == nil || errors.Is(err, cassandra.ErrRefused) {
		t.Errorf("closed node: %v, want a transport error that is not a refusal", err)
	}
}

// TestUnixSocket reaches the node through a Unix socket, as the Management API listens in
// a pod when it is not on TCP.
func TestUnixSocket(t *testing.T) {
	n := fakecassandra.New(t, fakecassandra.Config{ManagementAPI: true})
	sock := filepath.Join(t.TempDir(), "mgmt.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(n.ManagementAPIURL())
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := &mgmtapi.Client{URL: "unix://" + sock}
	if id, err := c.HostID(context.Background()); err != nil || id != n.HostID() {
		t.Errorf("host id over a unix socket: %q %v", id, err)
	}
}
