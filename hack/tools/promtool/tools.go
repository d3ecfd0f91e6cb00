//go:build tools

// Package tools pins promtool (Prometheus's rule and query checker), built by
// hack/tools.sh promtool into the tool cache. A module of its own so that Prometheus
// and its dependencies stay out of the main go.mod.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
