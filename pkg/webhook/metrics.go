package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
)

// The names of the webhook's metrics.
const (
	// AdmissionsMetric counts admission requests by result.
	AdmissionsMetric = "cassandra_backup_webhook_admissions_total"
	// AdmissionDurationMetric is the histogram of the time to answer one, by result.
	AdmissionDurationMetric = "cassandra_backup_webhook_admission_duration_seconds"
)

// Results of an admission, the label values of the webhook's metrics.
const (
	// ResultAllowed: admitted unchanged.
	ResultAllowed = "allowed"
	// ResultPatched: admitted with the restore injected.
	ResultPatched = "patched"
	// ResultDenied: refused (no plan yet, caches not synced, a bad pod).
	ResultDenied = "denied"
	// ResultError: the request itself was unusable (not an AdmissionReview, too big).
	ResultError = "error"
)

// Metrics are the webhook's admission metrics; a nil *Metrics records nothing.
type Metrics struct {
	admissions *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

// NewMetrics registers the webhook's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: AdmissionsMetric, Help: "Pod admission requests answered by the restore webhook, by result (allowed, patched, denied, error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: AdmissionDurationMetric, Help: "Time the restore webhook took to answer a pod admission request, by result.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.admissions, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{ResultAllowed, ResultPatched, ResultDenied, ResultError} {
		m.admissions.WithLabelValues(r)
	}
	return m, nil
}

// observe records one answer that took since start.
func (m *Metrics) observe(result string, start time.Time) {
	if m == nil {
		return
	}
	m.admissions.WithLabelValues(result).Inc()
	m.duration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

// resultOf names the result of an answered review.
func resultOf(resp *admissionv1.AdmissionResponse) string {
	switch {
	case !resp.Allowed:
		return ResultDenied
	case resp.Patch != nil:
		return ResultPatched
	}
	return ResultAllowed
}
