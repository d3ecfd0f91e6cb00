package version

import "github.com/prometheus/client_golang/prometheus"

// MetricName is the build-information gauge both binaries export.
const MetricName = "cassandra_backup_build_info"

// Collector returns a gauge, always 1, whose labels describe this build:
// cassandra_backup_build_info{version,commit,go_version} 1.
func Collector() prometheus.Collector {
	return collector(Get())
}

func collector(i Info) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        MetricName,
		Help:        "Build information of this binary: version, commit and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": i.Version, "commit": i.Commit, "go_version": i.GoVersion},
	})
	g.Set(1)
	return g
}
