#!/usr/bin/env bash
# Benchmarks cassandra-backup-agent against rclone on versitygw: backup and restore of about
# 1 GiB of SSTables. Prints a Markdown table. Installs Debian's rclone when missing (hack/debs.sh).
# With -memory 40000,400000: the agent's peak RSS by node file count instead; BEFORE=<git ref>
# builds the agent of that commit too and measures it side by side. With -restore-only
# [-halves] [-fewer] -rounds 3: the restore alone against its local floors, round by round (BEFORE
# works here too); -profile DIR / -trace DIR keep each agent restore's CPU profile / trace.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
hack/debs.sh rclone:rclone
gw=$(hack/tools.sh versitygw | sed -n 's/^versitygw=//p')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/cassandra-backup-agent" ./cmd/cassandra-backup-agent
before=()
if [[ -n "${BEFORE:-}" ]]; then
	mkdir "$tmp/before-src"
	git archive "$BEFORE" | tar -x -C "$tmp/before-src"
	(cd "$tmp/before-src" && go build -o "$tmp/cassandra-backup-agent-before" ./cmd/cassandra-backup-agent)
	before=(-before "$tmp/cassandra-backup-agent-before")
fi
go run ./bench/agent -agent "$tmp/cassandra-backup-agent" -versitygw "$gw" -work "$tmp/work" "${before[@]}" "$@"
