package agent

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// The names of the agent's metrics (served on `serve --metrics-listen`).
const (
	// BytesMetric counts bytes by direction: uploaded, downloaded, skipped (already in
	// place, not moved).
	BytesMetric = "cassandra_backup_agent_bytes_total"
	// FilesMetric counts files by direction, as BytesMetric.
	FilesMetric = "cassandra_backup_agent_files_total"
	// OperationDurationMetric is the histogram of operation durations by type and result.
	OperationDurationMetric = "cassandra_backup_agent_operation_duration_seconds"
	// OperationsMetric is the number of operations running now, by type (gauge).
	OperationsMetric = "cassandra_backup_agent_operations_in_progress"
	// StorageErrorsMetric counts failed tries of a file's transfer, by provider.
	StorageErrorsMetric = "cassandra_backup_agent_storage_errors_total"
	// StorageRetriesMetric counts a file's transfer tried again after an error, by provider.
	StorageRetriesMetric = "cassandra_backup_agent_storage_retries_total"
)

// Directions of BytesMetric and FilesMetric.
const (
	Uploaded   = "uploaded"
	Downloaded = "downloaded"
	Skipped    = "skipped"
)

// Metrics are the agent's Prometheus metrics; a nil *Metrics records nothing.
type Metrics struct {
	bytes, files    *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	running         *prometheus.GaugeVec
	errors, retries *prometheus.CounterVec
}

// NewMetrics registers the agent's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: BytesMetric,
			Help: "Bytes of SSTable files uploaded, downloaded, or skipped because they were already in place."}, []string{"direction"}),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: FilesMetric,
			Help: "SSTable files uploaded, downloaded, or skipped because they were already in place."}, []string{"direction"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: OperationDurationMetric,
			Help:    "Duration of the agent's operations by type (backup, restore) and result (completed, failed, cancelled).",
			Buckets: prometheus.ExponentialBuckets(1, 3, 11)}, []string{"type", "result"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: OperationsMetric,
			Help: "Operations running now, by type."}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: StorageErrorsMetric,
			Help: "Failed tries of a file's transfer (after the storage client's own request retries), by provider."}, []string{"provider"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: StorageRetriesMetric,
			Help: "Transfers of a file tried again after an error, by provider."}, []string{"provider"}),
	}
	for _, c := range []prometheus.Collector{m.bytes, m.files, m.duration, m.running, m.errors, m.retries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{Uploaded, Downloaded, Skipped} {
		m.bytes.WithLabelValues(d)
		m.files.WithLabelValues(d)
	}
	for _, t := range []string{api.TypeBackup, api.TypeRestore} {
		m.running.WithLabelValues(t)
	}
	return m, nil
}

// providerOf names a storage location's provider, a bounded label: s3, azure, gcp, file or other.
func providerOf(location string) string {
	scheme, _, _ := strings.Cut(location, "://")
	switch scheme = strings.ToLower(scheme); scheme {
	case "s3", "azure", "gcp", "file":
		return scheme
	}
	return "other"
}

// Tracker returns a tracker for an operation of type typ on location whose counts also
// go to m.
func (m *Metrics) Tracker(typ string, location string) *Tracker {
	t := &Tracker{}
	if m == nil {
		return t
	}
	dir := Uploaded
	if typ == api.TypeRestore {
		dir = Downloaded
	}
	p := providerOf(location)
	t.counters = &counters{
		bytes: m.bytes.WithLabelValues(dir), files: m.files.WithLabelValues(dir),
		skippedBytes: m.bytes.WithLabelValues(Skipped), skippedFiles: m.files.WithLabelValues(Skipped),
		errors: m.errors.WithLabelValues(p), retries: m.retries.WithLabelValues(p),
	}
	return t
}

// started counts an operation of type typ as running; call the returned func when it ends.
func (m *Metrics) started(typ string) func(state api.State, took time.Duration) {
	if m == nil {
		return func(api.State, time.Duration) {}
	}
	m.running.WithLabelValues(typ).Inc()
	return func(state api.State, took time.Duration) {
		m.running.WithLabelValues(typ).Dec()
		m.duration.WithLabelValues(typ, strings.ToLower(string(state))).Observe(took.Seconds())
	}
}

// counters are the metrics one operation's Tracker adds to.
type counters struct {
	bytes, files, skippedBytes, skippedFiles prometheus.Counter
	errors, retries                          prometheus.Counter
}
