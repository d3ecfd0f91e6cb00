package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// dtoMetric is a histogram's count and sum.
type dtoMetric struct {
	count uint64
	sum   float64
}

func (m *dtoMetric) read(t *testing.T, h prometheus.Histogram) {
	t.Helper()
	var out dto.Metric
	if err := h.Write(&out); err != nil {
		t.Fatal(err)
	}
	m.count, m.sum = out.GetHistogram().GetSampleCount(), out.GetHistogram().GetSampleSum()
}
