package client

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/cassbackup/cassandra-backup-operator/pkg/version"
)

// Version asks the agent at base for its version (the header of its GET /status answer,
// whatever the node's state); version.OldestAgent for an agent that names none. Pass the
// result to version.CheckAgent.
func (c *Client) Version(ctx context.Context, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/status", nil)
	if err != nil {
		return "", fmt.Errorf("GET %s/status: %w", base, err)
	}
	tok, err := c.token(ctx)
	if err != nil {
		return "", fmt.Errorf("GET %s/status: %w", base, err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return "", fmt.Errorf("GET %s/status: %w", base, &APIError{Status: resp.StatusCode, Message: "refused: no version without authentication"})
	}
	return version.AgentVersion(resp.Header), nil
}
