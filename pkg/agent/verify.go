package agent

import (
	"context"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/storage"
)

// OpenStorage opens the request's storage location with the request's credentials (its
// Secret read once), as a backup or restore does: for the restore drill (pkg/verify).
func (a *Agent) OpenStorage(ctx context.Context, req *api.Request) (storage.Provider, storage.Location, error) {
	return a.open(ctx, req)
}
