package operator

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/leaderelection"
	clientmetrics "k8s.io/client-go/tools/metrics"
)

// client-go reports its REST client and leader election through process-wide hooks; these
// collectors receive them (under the names Kubernetes components use, so the usual
// dashboards work) and every operator registry serves them.
var (
	restRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rest_client_requests_total",
		Help: "Requests to the Kubernetes API by status code, method and host.",
	}, []string{"code", "method", "host"})
	restLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rest_client_request_duration_seconds",
		Help:    "Latency of requests to the Kubernetes API by verb and host.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
	}, []string{"verb", "host"})
	restRateLimiter = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "rest_client_rate_limiter_duration_seconds",
		Help:    "Time requests to the Kubernetes API waited for the client's rate limiter, by verb and host.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
	}, []string{"verb", "host"})
	restRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rest_client_request_retries_total",
		Help: "Requests to the Kubernetes API retried, by status code, method and host.",
	}, []string{"code", "method", "host"})
	leaderStatus = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "leader_election_master_status",
		Help: "1 while this process holds the named leader Lease, else 0.",
	}, []string{"name"})
	leaderSlowpath = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leader_election_slowpath_total",
		Help: "Lease renewals that took client-go's slow path (a full update instead of a patch).",
	}, []string{"name"})
	hookOnce sync.Once
)

// registerClientMetrics hooks client-go's REST client and leader election metrics (once per
// process) and adds their collectors to reg.
func registerClientMetrics(reg prometheus.Registerer) error {
	hookOnce.Do(func() {
		clientmetrics.Register(clientmetrics.RegisterOpts{
			RequestLatency:     latencyAdapter{restLatency},
			RateLimiterLatency: latencyAdapter{restRateLimiter},
			RequestResult:      resultAdapter{restRequests},
			RequestRetry:       retryAdapter{restRetries},
		})
		leaderelection.SetProvider(leaderProvider{})
	})
	for _, c := range []prometheus.Collector{restRequests, restLatency, restRateLimiter, restRetries, leaderStatus, leaderSlowpath} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

type latencyAdapter struct{ h *prometheus.HistogramVec }

func (a latencyAdapter) Observe(_ context.Context, verb string, u url.URL, d time.Duration) {
	a.h.WithLabelValues(verb, u.Host).Observe(d.Seconds())
}

type resultAdapter struct{ c *prometheus.CounterVec }

func (a resultAdapter) Increment(_ context.Context, code, method, host string) {
	a.c.WithLabelValues(code, method, host).Inc()
}

type retryAdapter struct{ c *prometheus.CounterVec }

func (a retryAdapter) IncrementRetry(_ context.Context, code, method, host string) {
	a.c.WithLabelValues(code, method, host).Inc()
}

type leaderProvider struct{}

func (leaderProvider) NewLeaderMetric() leaderelection.LeaderMetric { return leaderMetric{} }

type leaderMetric struct{}

func (leaderMetric) On(name string)                { leaderStatus.WithLabelValues(name).Set(1) }
func (leaderMetric) Off(name string)               { leaderStatus.WithLabelValues(name).Set(0) }
func (leaderMetric) SlowpathExercised(name string) { leaderSlowpath.WithLabelValues(name).Inc() }
