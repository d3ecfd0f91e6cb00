package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every answer of the handler counts once under its result, with its latency.
func TestMetricsCountAdmissions(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	dc := testDC(true)
	patched := &Server{Lookup: staticLookup{dc: dc, plan: testPlan(t, dc, "b1")}, Config: Config{AgentImage: "agent"}, Metrics: m}
	denied := &Server{Lookup: staticLookup{dc: dc}, Config: Config{AgentImage: "agent"}, Metrics: m}
	other := &Server{Lookup: staticLookup{}, Config: Config{AgentImage: "agent"}, Metrics: m}
	post := func(s *Server, ct string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, DefaultPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		s.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}
	pod := review(t, testPod("cassandra-test-dc-cassandra-rack1-0"))
	post(patched, "application/json", pod)
	post(patched, "application/json", pod)
	post(denied, "application/json", pod)
	post(other, "application/json", pod)
	post(other, "text/plain", pod)
	post(other, "application/json", []byte("{not json"))
	for result, want := range map[string]float64{ResultPatched: 2, ResultDenied: 1, ResultAllowed: 1, ResultError: 2} {
		if got := testutil.ToFloat64(m.admissions.WithLabelValues(result)); got != want {
			t.Errorf("admissions{result=%s} = %v, want %v", result, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.duration, AdmissionDurationMetric); n != 4 {
		t.Errorf("%d latency series, want 4 (one per result)", n)
	}
}
