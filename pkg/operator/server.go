package operator

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/leaderelection"
)

// serve starts the metrics and health endpoints; they stop with shutdown.
func serve(ctx context.Context, cfg Config, reg *prometheus.Registry, synced *atomic.Bool, watchdog *leaderelection.HealthzAdaptor) (servers, error) {
	var out servers
	start := func(addr string, h http.Handler) error {
		if addr == "" || addr == "0" {
			return nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			out.shutdown(ctx)
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		srv := cfg.HTTPTimeouts.Server("", h)
		out = append(out, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
				utilruntime.HandleErrorWithContext(ctx, err, "HTTP server stopped", "addr", addr)
			}
		}()
		return nil
	}
	metrics := http.NewServeMux()
	metrics.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if err := start(cfg.MetricsAddr, metrics); err != nil {
		return nil, err
	}
	health := http.NewServeMux()
	health.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if watchdog != nil {
			if err := watchdog.Check(r); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	health.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !synced.Load() {
			http.Error(w, "informer caches not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	if err := start(cfg.HealthAddr, health); err != nil {
		return nil, err
	}
	return out, nil
}
