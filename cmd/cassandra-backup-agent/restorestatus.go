package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"k8s.io/klog/v2"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent"
	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
	"github.com/cassbackup/cassandra-backup-operator/pkg/serving"
)

// serveRestoreStatus serves the restore's progress on addr (agent.RestoreStatus) until
// the returned stop is called, behind the agent's authentication. The progress is a
// convenience: when it cannot be served (no Kubernetes configuration to authenticate
// callers with, the port taken) the restore goes on and the reason is logged.
func serveRestoreStatus(ctx context.Context, addr string, auth *authFlags, c *common, req api.Request, tr *agent.Tracker) (stop func()) {
	logger := klog.FromContext(ctx)
	if addr == "" {
		return func() {}
	}
	guard, err := auth.guard(ctx, c)
	if err != nil {
		logger.Info("Not serving the restore's progress: callers cannot be authenticated", "err", err)
		return func() {}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Info("Not serving the restore's progress", "err", err)
		return func() {}
	}
	srv := serving.Timeouts{}.Server(addr, agent.NewRestoreStatus(req, tr, guard).Handler())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Info("Serving the restore's progress stopped", "err", err)
		}
	}()
	logger.Info("Serving the restore's progress", "address", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-done
	}
}
