#!/usr/bin/env bash
# Regenerates everything derived from the API types in pkg/apis:
#   - deepcopy functions (zz_generated.deepcopy.go), with k8s.io/code-generator
#   - pkg/generated: clientset, listers, informers (with watch), apply configurations
#   - charts/cassandra-backup-operator/crds: the CustomResourceDefinitions, with
#     controller-gen (from sigs.k8s.io/controller-tools, used as a schema generator only);
#     then manifests/ is rendered from the chart (hack/update-manifests.sh)
# Run it after any change under pkg/apis; hack/verify-codegen.sh fails when it was not.
set -euo pipefail

root=${CODEGEN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
module=github.com/cassbackup/cassandra-backup-operator
cd "$root"

# `go list -m -f {{.Dir}}` prints nothing for a module that is not downloaded yet (a fresh
# machine, an empty module cache), so download it first and take the directory from there.
codegen_pkg=$(go mod download -json k8s.io/code-generator | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [[ -z $codegen_pkg || ! -f $codegen_pkg/kube_codegen.sh ]]; then
  echo "hack/update-codegen.sh: cannot download k8s.io/code-generator (the version go.mod requires); is the Go module proxy reachable?" >&2
  exit 1
fi
# shellcheck source=/dev/null
source "$codegen_pkg/kube_codegen.sh"

kube::codegen::gen_helpers \
  --boilerplate "$root/hack/boilerplate.go.txt" \
  "$root/pkg/apis"

kube::codegen::gen_client \
  --with-watch \
  --with-applyconfig \
  --output-dir "$root/pkg/generated" \
  --output-pkg "$module/pkg/generated" \
  --boilerplate "$root/hack/boilerplate.go.txt" \
  "$root/pkg/apis"

controller_gen=$("$(dirname "${BASH_SOURCE[0]}")/tools.sh" controller-gen | cut -d= -f2)
crds=charts/cassandra-backup-operator/crds
rm -rf "$root/$crds.tmp"
"$controller_gen" crd:crdVersions=v1 paths=./pkg/apis/... output:crd:artifacts:config="$crds.tmp"
rm -rf "$root/$crds"
mv "$root/$crds.tmp" "$root/$crds"

"$(dirname "${BASH_SOURCE[0]}")/update-manifests.sh" "$root"
