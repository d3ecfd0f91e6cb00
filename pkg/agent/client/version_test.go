package client

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// TestVersion reads the version of an agent that sends its header, of one built before the
// header existed (the oldest supported), and is refused one without the agent's token.
func TestVersion(t *testing.T) {
	node := fakecassandra.New(t, fakecassandra.Config{})
	srv := agent.NewServer(context.Background(), &agent.Agent{Node: node.Client(), Hostname: "node-0"})
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Guard = agent.BearerFile(tokenFile)
	current := httptest.NewServer(version.AgentHandler(srv.Handler()))
	old := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { current.Close(); old.Close() })

	c := &Client{Token: "s3cret"}
	got, err := c.Version(context.Background(), current.URL)
	if err != nil || got != version.Get().Version {
		t.Errorf("current agent: %q, %v; want %q", got, err, version.Get().Version)
	}
	got, err = c.Version(context.Background(), old.URL)
	if err != nil || got != version.OldestAgent {
		t.Errorf("agent without the header: %q, %v; want %q", got, err, version.OldestAgent)
	}
	var apiErr *APIError
	if _, err := (&Client{Token: "wrong"}).Version(context.Background(), current.URL); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Errorf("wrong token: %v, want a 401 APIError", err)
	}
}
