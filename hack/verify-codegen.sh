#!/usr/bin/env bash
# Fails when the generated code or CRDs differ from what hack/update-codegen.sh makes
# from the current API types. It regenerates into a copy of the tree, never in place.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Copy the tracked and untracked-but-not-ignored files, as a clean checkout would have them.
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [[ -e $f ]] && echo "$f"; done | tar -cf - -T - ) | tar -xf - -C "$tmp"

CODEGEN_ROOT=$tmp "$root/hack/update-codegen.sh"

status=0
for dir in pkg/generated pkg/apis charts/cassandra-backup-operator/crds manifests/crds; do
  if ! diff -Nru "$root/$dir" "$tmp/$dir"; then
    status=1
  fi
done
if ((status)); then
  echo "hack/verify-codegen.sh: generated files are out of date; run hack/update-codegen.sh" >&2
  exit 1
fi
echo "hack/verify-codegen.sh: generated code and CRDs are up to date"
