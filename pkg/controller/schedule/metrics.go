package schedule

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/cache"

	v1alpha1 "github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/pkg/informers"
)

// Metrics are the schedule controller's Prometheus metrics, labelled by namespace and schedule.
type Metrics struct {
	lastSuccess *prometheus.GaugeVec
	period      *prometheus.GaugeVec
	runs        *prometheus.CounterVec
	deletions   *prometheus.CounterVec

	mu sync.Mutex
	// seen holds, per schedule, the runs seen finished in this process, so that each
	// finished run counts once; nil until the schedule's first look.
	seen map[string]map[string]bool
}

// NewMetrics creates the metrics and registers them with reg (none when nil); a second
// registration on the same registry reuses the first one's collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"namespace", "schedule"}
	m := &Metrics{
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cassandra_backup_schedule_last_success_timestamp_seconds",
			Help: "Time (Unix seconds) of the run of the schedule's newest COMPLETED backup.",
		}, labels),
		period: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cassandra_backup_schedule_period_seconds",
			Help: "Time between the schedule's next two runs, for alerts such as no success in 2 × period.",
		}, labels),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassandra_backup_schedule_runs_total",
			Help: "Runs by result: started, completed, failed, cancelled, skipped.",
		}, append(labels, "result")),
		deletions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cassandra_backup_schedule_retention_deletions_total",
			Help: "Backups deleted by the schedule's retention.",
		}, labels),
		seen: map[string]map[string]bool{},
	}
	if reg == nil {
		return m, nil
	}
	m.lastSuccess = register(reg, m.lastSuccess)
	m.period = register(reg, m.period)
	m.runs = register(reg, m.runs)
	m.deletions = register(reg, m.deletions)
	return m, nil
}

// register registers c with reg, or returns the collector registered before under its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
		panic(fmt.Sprintf("register schedule metrics: %v", err))
	}
	return c
}

func key(s *v1alpha1.CassandraBackupSchedule) string { return s.Namespace + "/" + s.Name }

// observe sets the gauges of s.
func (m *Metrics) observe(s *v1alpha1.CassandraBackupSchedule, period time.Duration) {
	m.period.WithLabelValues(s.Namespace, s.Name).Set(period.Seconds())
	if t := s.Status.LastSuccessfulTime; t != nil {
		m.lastSuccess.WithLabelValues(s.Namespace, s.Name).Set(float64(t.Unix()))
	}
}

// finished counts the runs of fin (name → state) not seen finished before in this
// process and returns their names; at the schedule's first look it counts none.
func (m *Metrics) finished(s *v1alpha1.CassandraBackupSchedule, fin map[string]v1alpha1.BackupState) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen, looked := m.seen[key(s)]
	if !looked {
		seen = map[string]bool{}
		m.seen[key(s)] = seen
	}
	var out []string
	for run, state := range fin {
		if seen[run] {
			continue
		}
		seen[run] = true
		if looked {
			m.runs.WithLabelValues(s.Namespace, s.Name, strings.ToLower(string(state))).Inc()
			out = append(out, run)
		}
	}
	for run := range seen {
		if _, ok := fin[run]; !ok {
			delete(seen, run)
		}
	}
	sort.Strings(out)
	return out
}

func (m *Metrics) started(s *v1alpha1.CassandraBackupSchedule) {
	m.runs.WithLabelValues(s.Namespace, s.Name, "started").Inc()
}

func (m *Metrics) skipped(s *v1alpha1.CassandraBackupSchedule) {
	m.runs.WithLabelValues(s.Namespace, s.Name, "skipped").Inc()
}

func (m *Metrics) expired(s *v1alpha1.CassandraBackupSchedule) {
	m.deletions.WithLabelValues(s.Namespace, s.Name).Inc()
}

// forgetOnDelete drops a deleted schedule's series.
func (m *Metrics) forgetOnDelete(inf informers.Informer) error {
	return inf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		s, ok := obj.(*v1alpha1.CassandraBackupSchedule)
		if !ok {
			return
		}
		ls := map[string]string{"namespace": s.Namespace, "schedule": s.Name}
		m.lastSuccess.DeletePartialMatch(ls)
		m.period.DeletePartialMatch(ls)
		m.runs.DeletePartialMatch(ls)
		m.deletions.DeletePartialMatch(ls)
		m.mu.Lock()
		delete(m.seen, key(s))
		m.mu.Unlock()
	}})
}
