#!/usr/bin/env bash
# Installs the Debian packages that provide missing programs, so that scripts run on a
# fresh machine:   hack/debs.sh rclone:rclone /usr/bin/time:time ip:iproute2
# Each argument is PROGRAM:PACKAGE; PROGRAM is a name looked up on PATH or an absolute
# path. Nothing is installed when every program is there. As root it runs apt-get (with
# one `apt-get update` first); otherwise it prints the command to run and fails.
set -euo pipefail

missing=()
for arg in "$@"; do
  prog=${arg%%:*} pkg=${arg#*:}
  if [[ $prog == /* ]]; then
    [[ -x $prog ]] && continue
  else
    command -v "$prog" >/dev/null && continue
  fi
  missing+=("$pkg")
done
((${#missing[@]})) || exit 0

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
  echo "hack/debs.sh: needs ${missing[*]}: run  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "hack/debs.sh: installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
