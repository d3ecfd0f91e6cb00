#!/usr/bin/env bash
# Benchmarks the restore webhook: admission latency in process, and pod creation through a
# real kube-apiserver (built by hack/tools.sh) with and without the webhook at a fixed rate,
# the webhook in a process of its own. Prints Markdown tables, with CPU time per pod for
# kube-apiserver, etcd, the webhook and the load generator. Flags are passed on (see
# go run ./bench/webhook -h). The machine is shared: run it under flock /tmp/bench.lock.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
go run ./bench/webhook "$@"
