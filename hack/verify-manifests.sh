#!/usr/bin/env bash
# Fails when manifests/ differs from what hack/update-manifests.sh renders from the Helm
# chart. It renders into a copy of the tree, never in place.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$root" && git ls-files -z --cached --others --exclude-standard -- charts hack manifests | while IFS= read -r -d '' f; do [[ -e $f ]] && echo "$f"; done | tar -cf - -T - ) | tar -xf - -C "$tmp"

"$root/hack/update-manifests.sh" "$tmp"

if ! diff -Nru "$root/manifests" "$tmp/manifests"; then
  echo "hack/verify-manifests.sh: manifests/ is not what the chart renders; run hack/update-manifests.sh" >&2
  exit 1
fi
echo "hack/verify-manifests.sh: manifests/ is the chart rendered"
