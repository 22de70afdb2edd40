#!/usr/bin/env bash
# Install the Debian packages ringhost needs, if any is missing.
# As root it runs apt-get (update first); otherwise it says what to install.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libjansson-dev libhwloc-dev libcmocka-dev
      libdpdk-dev libzmq3-dev gnuplot-nox
      graphviz tmux                 # ringhost graph -o X.svg, the stat terminal test
      clang-14 libclang-rt-14-dev   # the fuzzers (.ci/fuzz.sh)
      prometheus                    # promtool and a real server for test_cli_metrics
      nats-server libnats-dev       # remote queues through JetStream
      iceoryx libiceoryx-binding-c-dev   # the zero-copy peer in ringhost bench
      stress-ng)                    # load beside test_cli_slow_producers and tests/stress/*.sh
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ringhost: missing packages: ${missing[*]}" >&2
  echo "ringhost: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "ringhost: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
