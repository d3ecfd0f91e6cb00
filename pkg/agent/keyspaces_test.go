package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	"github.com/cassbackup/cassandra-backup-operator/pkg/cassandra"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestKeyspaceReplication: the keyspace endpoints read and alter replication through the
// Management API (read back from the node); Jolokia cannot, and says so with 501.
func TestKeyspaceReplication(t *testing.T) {
	ctx := context.Background()
	node := fakecassandra.New(t, fakecassandra.Config{Datacenter: "dc2", ManagementAPI: true})
	if err := node.WriteSSTable("ks1", "t", 100); err != nil {
		t.Fatal(err)
	}
	node.SetReplication("ks1", cassandra.Replication{"class": cassandra.NetworkTopologyStrategy, "dc1": "3"})
	srv := httptest.NewServer(NewServer(ctx, &Agent{Node: node.ManagementAPIClient(), Hostname: "n"}).Handler())
	defer srv.Close()
	c := &client.Client{}
	ks, err := c.Keyspaces(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, k := range ks {
		got[k.Name] = k.Replication
	}
	if !reflect.DeepEqual(got["ks1"], map[string]string{"class": cassandra.NetworkTopologyStrategy, "dc1": "3"}) || got["system_schema"]["class"] == "" {
		t.Errorf("keyspaces %v", got)
	}
	if err := c.AlterReplication(ctx, srv.URL, "ks1", map[string]int{"dc2": 3, "east": 1}); err != nil {
		t.Fatal(err)
	}
	want := cassandra.Replication{"class": cassandra.NetworkTopologyStrategy, "dc2": "3", "east": "1"}
	if r := node.Replication("ks1"); !reflect.DeepEqual(r, want) || node.Calls("alterKeyspace") != 1 {
		t.Errorf("read back %v after %d alters, want %v", r, node.Calls("alterKeyspace"), want)
	}
	var apiErr *client.APIError
	if err := c.AlterReplication(ctx, srv.URL, "nope", map[string]int{"dc2": 1}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity {
		t.Errorf("alter of a missing keyspace: %v", err)
	}
	if err := c.AlterReplication(ctx, srv.URL, "ks1", nil); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Errorf("alter without factors: %v", err)
	}

	jol := httptest.NewServer(NewServer(ctx, &Agent{Node: node.Client(), Hostname: "n"}).Handler())
	defer jol.Close()
	if _, err := c.Keyspaces(ctx, jol.URL); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotImplemented {
		t.Errorf("Jolokia keyspaces: %v", err)
	}
}
