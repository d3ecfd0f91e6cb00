#!/usr/bin/env bash
# Builds (once) and prints the path of the external programs the tests run:
#   hack/tools.sh kube-apiserver etcd versitygw fake-gcs-server azurite controller-gen
# Binaries are cached outside the clone, keyed by version, in
#   ${CASSBACKUP_CACHE:-$HOME/.cache/cassandra-backup-operator}/<name>-<version>/
# so CI and later runs reuse them. Prints one "name=path" line per tool.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${CASSBACKUP_CACHE:-$HOME/.cache/cassandra-backup-operator}

# Pinned versions. The kube-apiserver and etcd versions also live in hack/tools/*/go.mod.
KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
VERSITYGW_VERSION=v1.8.0
FAKE_GCS_VERSION=v1.56.1
AZURITE_VERSION=3.37.0
CONTROLLER_TOOLS_VERSION=v0.23.0

log() { echo "hack/tools.sh: $*" >&2; }

# build NAME VERSION BIN CMD...: runs CMD with $out set to a fresh directory, then
# moves it into the cache atomically so an interrupted build never looks finished.
build() {
  local name=$1 version=$2 bin=$3; shift 3
  local dir=$cache/$name-$version
  if [[ ! -x $dir/$bin ]]; then
    mkdir -p "$cache"
    local tmp
    tmp=$(mktemp -d "$cache/.$name-XXXXXX")
    log "building $name $version into $dir (cached afterwards)"
    local start=$SECONDS
    if ! out=$tmp "$@" >&2; then
      rm -rf "$tmp"
      log "FAILED to build $name $version"
      return 1
    fi
    rm -rf "$dir"
    mv "$tmp" "$dir"
    log "built $name in $((SECONDS - start))s"
  fi
  echo "$name=$dir/$bin"
}

build_kube_apiserver() {
  (cd "$root/hack/tools/kube-apiserver" && go build -trimpath -ldflags='-s -w' -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
}
build_etcd() {
  (cd "$root/hack/tools/etcd" && go build -trimpath -ldflags='-s -w' -o "$out/etcd" .)
}
go_install() { # module/cmd@version
  GOBIN=$out GOFLAGS=-buildvcs=false go install -trimpath -ldflags='-s -w' "$1"
}
build_versitygw() { go_install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"; }
build_fake_gcs() { go_install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION"; }
build_controller_gen() { go_install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"; }
build_azurite() {
  cp "$root/hack/tools/azurite/package.json" "$root/hack/tools/azurite/package-lock.json" "$out/"
  (cd "$out" && npm ci --no-audit --no-fund --loglevel=error)
}

for tool in "$@"; do
  case $tool in
    kube-apiserver) build kube-apiserver "$KUBE_VERSION" kube-apiserver build_kube_apiserver ;;
    etcd) build etcd "$ETCD_VERSION" etcd build_etcd ;;
    versitygw) build versitygw "$VERSITYGW_VERSION" versitygw build_versitygw ;;
    fake-gcs-server) build fake-gcs-server "$FAKE_GCS_VERSION" fake-gcs-server build_fake_gcs ;;
    controller-gen) build controller-gen "$CONTROLLER_TOOLS_VERSION" controller-gen build_controller_gen ;;
    azurite) build azurite "$AZURITE_VERSION" node_modules/.bin/azurite-blob build_azurite ;;
    *) log "unknown tool $tool"; exit 2 ;;
  esac
done
