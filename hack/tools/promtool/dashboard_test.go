package tools

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// The chart's dashboard and the list of the metrics its queries read; test/e2e checks that
// a real operator and agent export every metric of the list.
var (
	dashboard = filepath.Join("..", "..", "..", "charts", "cassandra-backup-operator", "dashboards", "cassandra-backup.json")
	names     = filepath.Join("..", "..", "..", "charts", "cassandra-backup-operator", "dashboards", "metrics.txt")
)

// grafana replaces the dashboard's variables by values PromQL parses.
var grafana = strings.NewReplacer("$__rate_interval", "5m", "${namespace}", ".*", "$namespace", ".*")

// TestDashboardQueries parses every panel query of the dashboard with Prometheus's PromQL
// parser and checks that the metrics they select are exactly those of metrics.txt.
func TestDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	promql := parser.NewParser(parser.Options{})
	seen := map[string]bool{}
	queries := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			expr, err := promql.ParseExpr(grafana.Replace(tg.Expr))
			if err != nil {
				t.Errorf("panel %q: %q: %v", p.Title, tg.Expr, err)
				continue
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					if vs.Name == "" {
						t.Errorf("panel %q: a selector without a metric name: %s", p.Title, vs)
					}
					seen[vs.Name] = true
				}
				return nil
			})
		}
	}
	// label_values(metric, label) in a variable: the metric counts too.
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && strings.HasPrefix(q, "label_values(") {
			m, _, _ := strings.Cut(strings.TrimPrefix(q, "label_values("), ",")
			seen[strings.TrimSpace(m)] = true
		}
	}
	var got []string
	for n := range seen {
		got = append(got, n)
	}
	slices.Sort(got)
	b, err := os.ReadFile(names)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(b))
	if !slices.Equal(got, want) {
		t.Errorf("the dashboard's %d queries read\n%s\nbut %s lists\n%s", queries, strings.Join(got, "\n"), names, strings.Join(want, "\n"))
	}
}
