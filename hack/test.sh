#!/usr/bin/env bash
# The whole test suite, from a fresh machine: builds (or reuses from the cache) the
# programs the tests run, checks the generated code, vets, and runs every Go test.
# `make test` and .ci/run call exactly this.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
start=$SECONDS

command -v go >/dev/null || { echo "hack/test.sh: Go is needed (go1.26)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "hack/test.sh: kubectl is needed on PATH for the tests of the guide's YAML" >&2; exit 1; }
# The suites run their pods on the test pod network (test/podnet), which needs root to
# create network namespaces; make test never falls back to loopback by itself.
if [[ $(id -u) != 0 && -z ${CASSBACKUP_PODNET:-} ]]; then
  echo "hack/test.sh: the test pod network needs root (network namespaces); run as root, or set CASSBACKUP_PODNET=0 to run every pod on 127.0.0.1 (test/podnet's own tests still fail then)" >&2
  exit 1
fi
hack/debs.sh ip:iproute2

# No test may reach a cloud metadata address: the SDKs' default credential chains (S3
# without keys, GCS and Azure without keys) are pointed at a closed local port, so a test
# that forgets to serve its own fails at once instead of calling 169.254.169.254.
export AWS_EC2_METADATA_DISABLED=true GCE_METADATA_HOST=127.0.0.1:9 IDENTITY_ENDPOINT=http://127.0.0.1:9/msi/token IDENTITY_HEADER=closed

# The programs the tests start. Building kube-apiserver takes ~11 min on 2 cores the
# first time, kube-controller-manager ~8 min more (it shares most packages in Go's build
# cache; ~15 min alone with an empty one); afterwards both come from the cache (see
# hack/tools.sh).
echo "== tools"
while IFS='=' read -r name path; do
  var=$(echo "$name" | tr 'a-z-' 'A-Z_')_BIN
  export "$var=$path"
  echo "$var=$path"
done < <(hack/tools.sh kube-apiserver kube-controller-manager etcd controller-gen versitygw fake-gcs-server azurite helm promtool thirdparty-crds)

echo "== go.mod is tidy (direct requirements marked direct, no stale ones)"
go mod tidy -diff

echo "== layering: one owner per contract, test doubles out of production's reach"
mod=$(go list -m)
if go list -deps ./pkg/webhook | grep "^$mod/pkg/controller/"; then
  echo "hack/test.sh: pkg/webhook imports a controller (the plan's contract lives in pkg/plan)" >&2; exit 1
fi
if go list -deps ./cmd/cassandra-backup-operator | grep -x "$mod/pkg/agent"; then
  echo "hack/test.sh: the operator links pkg/agent (it needs only pkg/agent/api and pkg/agent/client)" >&2; exit 1
fi
if go list -deps ./cmd/cassandra-backup-operator | grep -x "$mod/pkg/cassandra/jolokia"; then
  echo "hack/test.sh: the operator links the Jolokia client (node control belongs to the agent; the operator needs only pkg/cassandra)" >&2; exit 1
fi
if go list -deps $(go list ./cmd/... ./pkg/... | grep -v /storagetest$) | grep -E "^$mod/test/|/storagetest$"; then
  echo "hack/test.sh: production code imports test code" >&2; exit 1
fi

echo "== generated code and CRDs"
hack/verify-codegen.sh

echo "== manifests/ rendered from the Helm chart"
hack/verify-manifests.sh

echo "== gofmt"
unformatted=$(git ls-files -z '*.go' | xargs -0 gofmt -l)
if [[ -n $unformatted ]]; then
  echo "hack/test.sh: not gofmt-formatted (run gofmt -w on them):" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 45m "$@" ./...

# The image builder is a module of its own (go-containerregistry and BuildKit's parser
# stay out of the main go.mod); its tests build both images for amd64 and arm64.
echo "== images (hack/tools/images)"
go -C hack/tools/images vet ./...
go -C hack/tools/images test -count=1 -timeout 30m "$@" ./...

# promtool's module (Prometheus stays out of the main go.mod): its test parses every query
# of the chart's Grafana dashboard with the PromQL parser.
echo "== dashboard queries (hack/tools/promtool)"
go -C hack/tools/promtool vet ./...
go -C hack/tools/promtool test -count=1 "$@" ./...

echo "== hack/test.sh passed in $((SECONDS - start))s"
