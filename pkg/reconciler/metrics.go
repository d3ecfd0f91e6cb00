package reconciler

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
)

// Metrics are the reconciler's Prometheus metrics, shared by every controller of a process.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	passes   *prometheus.CounterVec
	writes   *prometheus.CounterVec
}

// NewMetrics creates the reconciler metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_handler_calls_total",
			Help: "Handler calls by controller, handler and outcome (done, requeue, temporary, permanent, error).",
		}, []string{"controller", "handler", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "reconciler_handler_duration_seconds",
			Help:    "Time spent in handlers by controller and handler.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"controller", "handler"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_passes_total",
			Help: "Reconciliation passes by controller and result (ok, error, stale, gone).",
		}, []string{"controller", "result"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reconciler_writes_total",
			Help: "API writes made by the reconciler by controller and kind (metadata, status).",
		}, []string{"controller", "kind"}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.duration, m.passes, m.writes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register reconciler metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) call(controller, handler, outcome string, seconds float64) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(controller, handler, outcome).Inc()
	m.duration.WithLabelValues(controller, handler).Observe(seconds)
}

func (m *Metrics) pass(controller, result string) {
	if m != nil {
		m.passes.WithLabelValues(controller, result).Inc()
	}
}

func (m *Metrics) write(controller, kind string) {
	if m != nil {
		m.writes.WithLabelValues(controller, kind).Inc()
	}
}

// QueueMetrics is a workqueue.MetricsProvider that exports client-go's workqueue metrics
// (workqueue_depth, workqueue_adds_total, workqueue_queue_duration_seconds,
// workqueue_work_duration_seconds, workqueue_unfinished_work_seconds,
// workqueue_longest_running_processor_seconds, workqueue_retries_total) labelled by queue name.
type QueueMetrics struct {
	depth      *prometheus.GaugeVec
	adds       *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	workDur    *prometheus.HistogramVec
	unfinished *prometheus.GaugeVec
	longest    *prometheus.GaugeVec
	retries    *prometheus.CounterVec
}

var _ workqueue.MetricsProvider = (*QueueMetrics)(nil)

// NewQueueMetrics creates the workqueue metrics and registers them with reg.
func NewQueueMetrics(reg prometheus.Registerer) (*QueueMetrics, error) {
	buckets := prometheus.ExponentialBuckets(10e-9, 10, 12)
	q := &QueueMetrics{
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Subsystem: "workqueue", Name: "depth", Help: "Current depth of the workqueue.",
		}, []string{"name"}),
		adds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: "workqueue", Name: "adds_total", Help: "Adds handled by the workqueue.",
		}, []string{"name"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "workqueue", Name: "queue_duration_seconds", Help: "Seconds an item waits in the workqueue before it is requested.", Buckets: buckets,
		}, []string{"name"}),
		workDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "workqueue", Name: "work_duration_seconds", Help: "Seconds processing an item from the workqueue takes.", Buckets: buckets,
		}, []string{"name"}),
		unfinished: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Subsystem: "workqueue", Name: "unfinished_work_seconds", Help: "Seconds of work in progress not yet observed by work_duration.",
		}, []string{"name"}),
		longest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Subsystem: "workqueue", Name: "longest_running_processor_seconds", Help: "Seconds the longest running processor has been running.",
		}, []string{"name"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: "workqueue", Name: "retries_total", Help: "Retries handled by the workqueue.",
		}, []string{"name"}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{q.depth, q.adds, q.latency, q.workDur, q.unfinished, q.longest, q.retries} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register workqueue metrics: %w", err)
	}
	return q, nil
}

// NewDepthMetric implements workqueue.MetricsProvider.
func (q *QueueMetrics) NewDepthMetric(name string) workqueue.GaugeMetric {
	return q.depth.WithLabelValues(name)
}

// NewAddsMetric implements workqueue.MetricsProvider.
func (q *QueueMetrics) NewAddsMetric(name string) workqueue.CounterMetric {
	return q.adds.WithLabelValues(name)
}

// NewLatencyMetric implements workqueue.MetricsProvider.
func (q *QueueMetrics) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return q.latency.WithLabelValues(name)
}

// NewWorkDurationMetric implements workqueue.MetricsProvider.
func (q *QueueMetrics) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return q.workDur.WithLabelValues(name)
}

// NewUnfinishedWorkSecondsMetric implements workqueue.MetricsProvider.
func (q *QueueMetrics) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return q.unfinished.WithLabelValues(name)
}

// NewLongestRunningProcessorSecondsMetric implements workqueue.MetricsProvider.
func (q *QueueMetrics) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return q.longest.WithLabelValues(name)
}

// NewRetriesMetric implements workqueue.MetricsProvider.
func (q *QueueMetrics) NewRetriesMetric(name string) workqueue.CounterMetric {
	return q.retries.WithLabelValues(name)
}
