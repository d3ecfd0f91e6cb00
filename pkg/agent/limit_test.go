package agent

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/client"
	"github.com/cassbackup/cassandra-backup-operator/test/fakecassandra"
)

// A flood of submissions: MaxOperations run, the others are answered 429 with
// Retry-After and start nothing; a slot freed takes a new one.
func TestOperationLimit(t *testing.T) {
	e := newEnv(t, fakecassandra.Config{})
	e.populate()
	e.server.MaxOperations, e.server.RetryAfter = 2, 7*time.Second
	slow := func(tag string) api.Request {
		req := e.request(api.TypeBackup, tag)
		req.Bandwidth = &api.Bandwidth{Value: 1, Unit: "BPS"} // runs until cancelled
		return req
	}
	var ids []string
	for i, tag := range []string{"flood0", "flood1", "flood2", "flood3", "flood4"} {
		var o api.Operation
		resp := e.do("POST", "/operations", slow(tag), &o)
		switch {
		case i < 2 && resp.StatusCode == http.StatusCreated:
			ids = append(ids, o.ID)
		case i >= 2 && resp.StatusCode == http.StatusTooManyRequests:
			if ra := resp.Header.Get("Retry-After"); ra != "7" {
				t.Errorf("Retry-After %q, want 7", ra)
			}
		default:
			t.Fatalf("submission %d: %d, want %d", i, resp.StatusCode, map[bool]int{true: 201, false: 429}[i < 2])
		}
	}
	var list []api.Operation
	if e.do("GET", "/operations", nil, &list); len(list) != 2 {
		t.Fatalf("%d operations after the flood, want the 2 admitted", len(list))
	}

	// The operator's client sees an APIError that says busy, with the delay.
	_, err := (&client.Client{}).Submit(context.Background(), e.url, slow("flood5"))
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || !apiErr.Busy() || apiErr.RetryAfter != 7*time.Second || !strings.Contains(apiErr.Message, "limit") {
		t.Fatalf("client.Submit at the limit: %v, want a busy APIError with Retry-After 7s", err)
	}

	// A cancelled operation frees its slot.
	if resp := e.do("DELETE", "/operations/"+ids[0], nil, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	e.wait(ids[0])
	var o api.Operation
	if resp := e.do("POST", "/operations", slow("flood6"), &o); resp.StatusCode != http.StatusCreated {
		t.Fatalf("after a cancellation: %d, want 201", resp.StatusCode)
	}
	for _, id := range []string{ids[1], o.ID} {
		e.do("DELETE", "/operations/"+id, nil, nil)
		e.wait(id)
	}
}
