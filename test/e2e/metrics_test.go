package e2e_test

import (
	"bufio"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cassbackup/cassandra-backup-operator/pkg/apis/cassandraoperator/v1alpha1"
	"github.com/cassbackup/cassandra-backup-operator/test/controlplane"
	"github.com/cassbackup/cassandra-backup-operator/test/e2e/guide"
)

// metrics is one scrape of a /metrics endpoint.
type metrics map[string]*dto.MetricFamily

func scrape(t *testing.T, url string) metrics {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// scrapeUntil scrapes url until it has a sample name{want} (at most 30 s), and returns the
// last scrape.
func scrapeUntil(t *testing.T, url, name string, want map[string]string) metrics {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := scrape(t, url)
		if _, ok := m.value(name, want); ok || time.Now().After(deadline) {
			return m
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// value returns the sample of name (a histogram's name_count or name_sum too) whose labels
// include want.
func (m metrics) value(name string, want map[string]string) (float64, bool) {
	base, part := name, ""
	if f, ok := m[name]; !ok || f == nil {
		for _, suffix := range []string{"_count", "_sum"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && m[b] != nil {
				base, part = b, suffix
			}
		}
	}
	f := m[base]
	if f == nil {
		return 0, false
	}
next:
	for _, s := range f.Metric {
		have := map[string]string{}
		for _, l := range s.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case part == "_count":
			return float64(s.GetHistogram().GetSampleCount()), true
		case part == "_sum":
			return s.GetHistogram().GetSampleSum(), true
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// expect fails unless name{want} is v (within 1e-6 relative).
func (m metrics) expect(t *testing.T, what, name string, want map[string]string, v float64) {
	t.Helper()
	got, ok := m.value(name, want)
	if !ok {
		t.Errorf("%s: no sample %s%v", what, name, want)
		return
	}
	if math.Abs(got-v) > 1e-6*math.Max(1, math.Abs(v)) {
		t.Errorf("%s: %s%v = %v, want %v", what, name, want, got, v)
	}
}

// checkBackupMetrics checks the operator's and the agents' metrics after backup b completed.
// It returns the scrapes.
func checkBackupMetrics(t *testing.T, operatorURL, ns string, nodes []*guide.Node, b *v1alpha1.CassandraBackup, provider string) []metrics {
	t.Helper()
	dc := map[string]string{"namespace": ns, "cluster": b.Spec.Cluster, "datacenter": b.Spec.Datacenter}
	completed := map[string]string{"namespace": ns, "cluster": b.Spec.Cluster, "datacenter": b.Spec.Datacenter, "result": "completed"}
	// The operator's cache (and so its metrics) follows the API server by a watch event.
	op := scrapeUntil(t, operatorURL, "cassandra_backup_duration_seconds_count", completed)
	all := []metrics{op}
	op.expect(t, "operator", "cassandra_backup_backups", map[string]string{"namespace": ns, "state": "COMPLETED"}, 1)
	op.expect(t, "operator", "cassandra_backup_backups", map[string]string{"namespace": ns, "state": "FAILED"}, 0)
	op.expect(t, "operator", "cassandra_backup_last_success_timestamp_seconds", dc, float64(b.Status.CompletionTime.Unix()))
	op.expect(t, "operator", "cassandra_backup_duration_seconds_count", completed, 1)
	op.expect(t, "operator", "cassandra_backup_duration_seconds_sum", completed, b.Status.CompletionTime.Sub(b.Status.StartTime.Time).Seconds())
	var total, moved, skipped, files float64
	for _, n := range b.Status.Nodes {
		total += float64(n.BytesTotal)
		files += float64(n.FilesTotal - n.FilesSkipped)
	}
	op.expect(t, "operator", "cassandra_backup_size_bytes_sum", dc, total)
	op.expect(t, "operator", "leader_election_master_status", map[string]string{"name": leaseName(ns)}, 1)
	if v, _ := op.value("rest_client_requests_total", map[string]string{"code": "200", "method": "GET"}); v < 1 {
		t.Errorf("operator: rest_client_requests_total{code=200,method=GET} = %v, want ≥ 1", v)
	}
	// The webhook answered its readiness probe (a pod without a plan: denied).
	if v, _ := op.value("cassandra_backup_webhook_admissions_total", map[string]string{"result": "denied"}); v < 1 {
		t.Errorf("operator: cassandra_backup_webhook_admissions_total{result=denied} = %v, want ≥ 1", v)
	}
	var agentFiles float64
	for _, n := range nodes {
		m := scrape(t, n.MetricsURL)
		all = append(all, m)
		up, _ := m.value("cassandra_backup_agent_bytes_total", map[string]string{"direction": "uploaded"})
		sk, _ := m.value("cassandra_backup_agent_bytes_total", map[string]string{"direction": "skipped"})
		f, _ := m.value("cassandra_backup_agent_files_total", map[string]string{"direction": "uploaded"})
		moved, skipped, agentFiles = moved+up, skipped+sk, agentFiles+f
		m.expect(t, n.Name, "cassandra_backup_agent_operation_duration_seconds_count", map[string]string{"type": "backup", "result": "completed"}, 1)
		m.expect(t, n.Name, "cassandra_backup_agent_operations_in_progress", map[string]string{"type": "backup"}, 0)
		m.expect(t, n.Name, "cassandra_backup_agent_storage_errors_total", map[string]string{"provider": provider}, 0)
		m.expect(t, n.Name, "cassandra_backup_build_info", nil, 1)
	}
	// Every byte of the backup was moved or already in place; the manifests add no file.
	if moved+skipped != total || moved == 0 {
		t.Errorf("agents: %v bytes uploaded + %v skipped, want %v in all", moved, skipped, total)
	}
	if agentFiles != files {
		t.Errorf("agents: %v files uploaded, want %v", agentFiles, files)
	}
	return all
}

// checkRestoreMetrics checks the operator's metrics after dc's restore completed.
// It returns the scrape.
func checkRestoreMetrics(t *testing.T, operatorURL string, dc *v1alpha1.CassandraDataCenter, pods int) metrics {
	t.Helper()
	labels := map[string]string{"namespace": dc.Namespace, "cluster": dc.Spec.Cluster, "datacenter": dc.Spec.Datacenter}
	op := scrapeUntil(t, operatorURL, "cassandra_backup_restore_duration_seconds_count", map[string]string{"namespace": dc.Namespace, "datacenter": dc.Spec.Datacenter, "result": "completed"})
	op.expect(t, "operator", "cassandra_backup_restore_state", map[string]string{"namespace": dc.Namespace, "datacenter": dc.Spec.Datacenter, "state": "COMPLETED"}, 1)
	labels["result"] = "completed"
	op.expect(t, "operator", "cassandra_backup_restore_duration_seconds_count", labels, 1)
	op.expect(t, "operator", "cassandra_backup_webhook_admissions_total", map[string]string{"result": "patched"}, float64(pods))
	return op
}

// checkDashboardMetrics checks that the scrapes (of a real operator and agents) export
// every metric the chart's dashboard reads (dashboards/metrics.txt, which the promtool
// module's test keeps equal to what the dashboard's queries select).
func checkDashboardMetrics(t *testing.T, scrapes ...metrics) {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "charts", "cassandra-backup-operator", "dashboards", "metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Fields(string(b)) {
		found := false
		for _, m := range scrapes {
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(name, suffix); ok && m[b] != nil && m[b].GetType() == dto.MetricType_HISTOGRAM {
					base = b
				}
			}
			if m[base] != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("the dashboard reads %s, which neither the operator nor the agents export", name)
		}
	}
}

// checkJSONLog checks the log of a process run with --logging-format=json: every line is a
// JSON object with a message, errors carry "err", and the wanted messages were logged
// with the object they are about.
func checkJSONLog(t *testing.T, path string, wantMsgs ...string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Errorf("%s line %d is not JSON: %v: %s", path, lines, err, sc.Text())
			continue
		}
		msg, _ := entry["msg"].(string)
		if msg == "" {
			t.Errorf("%s line %d has no msg: %s", path, lines, sc.Text())
		}
		for _, w := range wantMsgs {
			if msg == w {
				if _, ok := entry["object"]; !ok {
					t.Errorf("%s: %q without the object it is about: %s", path, w, sc.Text())
				}
				seen[w] = true
			}
		}
	}
	if lines == 0 {
		t.Errorf("%s: empty log", path)
	}
	for _, w := range wantMsgs {
		if !seen[w] {
			t.Errorf("%s: no line %q", path, w)
		}
	}
}
