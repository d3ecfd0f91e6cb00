//go:build tools

// Package tools pins the published Go API types of the third-party kinds the Helm chart
// can create (prometheus-operator's ServiceMonitor, cert-manager's Certificate and
// Issuer). hack/tools.sh runs controller-gen over them to make the CRDs the chart's
// tests install; nothing is downloaded but these Go modules.
package tools

import (
	_ "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)
