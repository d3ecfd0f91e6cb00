#!/usr/bin/env bash
# Benchmarks the restore webhook: admission latency in process, and pod creation through a
# real kube-apiserver (built by hack/tools.sh) with and without the webhook at a fixed rate.
# Prints Markdown tables. Flags are passed on (see go run ./bench/webhook -h).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
go run ./bench/webhook "$@"
