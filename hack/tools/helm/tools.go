//go:build tools

// Package tools pins helm (helm lint, helm template) for the chart's tests and for
// rendering manifests/ from the chart; hack/tools.sh builds helm.sh/helm/v3/cmd/helm
// with this module's versions.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
