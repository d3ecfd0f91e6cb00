#!/usr/bin/env bash
# Backs up and restores a datacenter of -racks × -per-rack pods (default 3 × 20) on the test
# pod network (needs root): fake nodes with real agents, the real operator binary, a real
# kube-apiserver, a file:// bucket. Prints a Markdown table (see go run ./bench/scale -h).
# The machine is shared: run it under flock /tmp/bench.lock.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
while IFS='=' read -r name path; do
  export "$(echo "$name" | tr 'a-z-' 'A-Z_')_BIN=$path"
done < <(hack/tools.sh kube-apiserver etcd)
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
go run ./bench/scale "$@"
echo "named network namespaces: $(ip netns list | wc -l); cbk links (any live test process's): $(ip link | grep -c cbk || true)"
