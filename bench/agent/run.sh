#!/usr/bin/env bash
# Benchmarks cassandra-backup-agent against rclone on versitygw: backup and restore of about
# 1 GiB of SSTables. Prints a Markdown table. Installs Debian's rclone when missing (hack/debs.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
hack/debs.sh rclone:rclone
gw=$(hack/tools.sh versitygw | sed -n 's/^versitygw=//p')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/cassandra-backup-agent" ./cmd/cassandra-backup-agent
go run ./bench/agent -agent "$tmp/cassandra-backup-agent" -versitygw "$gw" -work "$tmp/work" "$@"
