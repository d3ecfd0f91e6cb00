#!/usr/bin/env bash
# Storage benchmark: uploads then downloads 400 MiB (20 x 20 MiB files) to versitygw on
# 127.0.0.1 through storage.Provider, a bare aws-sdk-go-v2 upload manager/downloader and
# `env -u AWS_CA_BUNDLE rclone copy --transfers 16`, side by side in one run, and prints
# a table (MiB/s up and down, ratios to the bare SDK and to rclone, peak RSS).
#   bench/storage/run.sh            one round
#   BENCH_ROUNDS=3 bench/storage/run.sh
#   BENCH_FILES=4 BENCH_FILE_MIB=100 bench/storage/run.sh   (other object sizes)
# Installs Debian's rclone and time when missing (hack/debs.sh); versitygw comes from
# hack/tools.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
hack/debs.sh rclone:rclone /usr/bin/time:time
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -tags bench -o "$tmp/bench.test" ./bench/storage/
cd bench/storage
"$tmp/bench.test" -test.run '^TestStorageBench$' -test.count=1 -test.v -test.timeout=30m | grep -v -E '^(=== RUN|--- PASS|PASS)'
