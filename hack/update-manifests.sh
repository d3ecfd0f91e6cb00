#!/usr/bin/env bash
# Renders manifests/ (the kustomize install) from the Helm chart, the one source:
#   helm template cassandra-backup-operator charts/cassandra-backup-operator \
#     --namespace cassandra-backup-system --values hack/manifests-values.yaml --include-crds
# one file per chart file (crds/, operator/, webhook/), and kustomization.yaml, whose
# images: list names the images the chart rendered (values.yaml and Chart.yaml's appVersion).
# manifests/samples and manifests/kustomizeconfig.yaml are kept by hand.
# Usage: hack/update-manifests.sh [ROOT] (default: this clone); hack/verify-manifests.sh
# checks that manifests/ is what this makes.
set -euo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
chart=$root/charts/cassandra-backup-operator
out=$root/manifests
helm=${HELM_BIN:-$("$(dirname "${BASH_SOURCE[0]}")/tools.sh" helm | cut -d= -f2)}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$helm" template cassandra-backup-operator "$chart" --namespace cassandra-backup-system \
  --values "$root/hack/manifests-values.yaml" --include-crds --output-dir "$tmp" >/dev/null
rendered=$tmp/cassandra-backup-operator

rm -rf "$out/crds" "$out/operator" "$out/webhook" "$out/kustomization.yaml"
resources=()
while IFS= read -r f; do
  rel=${f#"$rendered/"}
  rel=${rel#templates/}
  mkdir -p "$(dirname "$out/$rel")"
  # helm writes "---" and "# Source: <chart file>" before each document and a blank line
  # after the last: drop the first "---", the Source lines and trailing blank lines.
  awk 'NR == 1 && $0 == "---" { next } /^# Source: / { next }
    /^$/ { blank++; next } { while (blank) { print ""; blank-- } print }' "$f" >"$out/$rel"
  resources+=("$rel")
done < <(find "$rendered" -name '*.yaml' | LC_ALL=C sort)

# The images the Deployment names: the operator's container and AGENT_IMAGE.
deployment=$out/operator/deployment.yaml
operator_image=$(sed -n 's/^ *image: //p' "$deployment")
agent_image=$(awk '/- name: AGENT_IMAGE$/ { getline; sub(/^ *value: /, ""); print; exit }' "$deployment")
if [[ -z $operator_image || -z $agent_image ]]; then
  echo "hack/update-manifests.sh: no operator image or AGENT_IMAGE in $deployment" >&2
  exit 1
fi
images=""
for image in "$operator_image" "$agent_image"; do
  images+="- name: ${image%:*}"$'\n'"  newTag: ${image##*:}"$'\n'
done

{
  cat <<'HEAD'
# Rendered from charts/cassandra-backup-operator by hack/update-manifests.sh; do not edit:
# change the chart (or hack/manifests-values.yaml) and run the script.
# kubectl apply -k manifests/ installs the operator into cassandra-backup-system.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
HEAD
  printf -- '- %s\n' "${resources[@]}"
  cat <<'TAIL'
# The one place of this install that names the images (registry, name, tag), rendered from
# the chart's image values: the operator's container and the agent image the webhook
# injects into restored pods (AGENT_IMAGE, see kustomizeconfig.yaml). `make images` builds
# them; to use a mirror or another release:
#   cd manifests && kustomize edit set image ghcr.io/cassbackup/cassandra-backup-agent=registry.example/cassandra-backup-agent:v0.1.1
# The sample StatefulSet (manifests/samples) names the agent sidecar's image itself.
configurations:
- kustomizeconfig.yaml
images:
TAIL
  printf '%s' "$images"
} >"$out/kustomization.yaml"
