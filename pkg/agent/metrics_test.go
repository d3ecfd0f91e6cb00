package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cassbackup/cassandra-backup-operator/pkg/agent/api"
)

// A restore's tracker counts downloaded and skipped bytes and files, and failed tries by
// the location's provider; the running gauge and the duration histogram follow the
// operation.
func TestMetricsCountTransfers(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tr := m.Tracker(api.TypeRestore, "gcp://bucket/c/dc/node")
	tr.Transferred(1000)
	tr.Transferred(24)
	tr.FileDone()
	tr.Skipped(500)
	old := fileBackoff
	fileBackoff = 0
	defer func() { fileBackoff = old }()
	tries := 0
	if err := retryFile(context.Background(), tr, func(context.Context) error {
		if tries++; tries < 3 {
			return errors.New("connection reset")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ended := m.started(api.TypeRestore)
	if got := testutil.ToFloat64(m.running.WithLabelValues(api.TypeRestore)); got != 1 {
		t.Errorf("running restores %v, want 1", got)
	}
	ended(api.StateCompleted, 3*time.Second)
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"downloaded bytes", m.bytes.WithLabelValues(Downloaded), 1024},
		{"uploaded bytes", m.bytes.WithLabelValues(Uploaded), 0},
		{"skipped bytes", m.bytes.WithLabelValues(Skipped), 500},
		{"downloaded files", m.files.WithLabelValues(Downloaded), 1},
		{"skipped files", m.files.WithLabelValues(Skipped), 1},
		{"gcp errors", m.errors.WithLabelValues("gcp"), 2},
		{"gcp retries", m.retries.WithLabelValues("gcp"), 2},
		{"running restores", m.running.WithLabelValues(api.TypeRestore), 0},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.duration, OperationDurationMetric); n != 1 {
		t.Errorf("%d duration series, want 1 (restore, completed)", n)
	}
	// A nil *Metrics records nothing and still tracks.
	var none *Metrics
	plain := none.Tracker(api.TypeBackup, "s3://b")
	plain.Transferred(5)
	if done, _ := plain.Bytes(); done != 5 {
		t.Errorf("untracked tracker: %d bytes done", done)
	}
	none.started(api.TypeBackup)(api.StateFailed, time.Second)
}
