#!/usr/bin/env bash
# Install the Debian packages one make command needs, if any is missing.
#   .ci/deps.sh run       building the host and the kernels, running the demo
#   .ci/deps.sh test      run + what the test suite starts or links
#   .ci/deps.sh bench     run + the baselines `ringhost bench` compares with
#   .ci/deps.sh cluster   run + the nats-server of `make run-cluster`
#   .ci/deps.sh fuzz      run + clang for the fuzzers (.ci/fuzz.sh)
#   .ci/deps.sh ci        all of the above (.ci/run)
# Several groups may be given.  As root it runs apt-get (update first);
# otherwise it says what to install.  One line per step on stderr; apt's own
# output goes to a log file, printed only when apt fails.
set -euo pipefail

# What CMake needs to configure and build ringhost, the kernels and the
# demo: the C toolchain, cmake, pkg-config, jansson (messages, manifests),
# hwloc (placement) and the NATS C client (remote queues are part of the
# host).  cmocka is not here: without it the tests are left out of the
# build (CMakeLists.txt says so) and `make run` does not need them.
run_pkgs=(build-essential cmake pkg-config libjansson-dev libhwloc-dev libnats-dev)
test_pkgs=(libcmocka-dev              # every test is a cmocka program
           nats-server                # remote queues through JetStream
           prometheus                 # promtool and a real server for test_cli_metrics
           graphviz tmux              # ringhost graph -o X.svg, the stat terminal test
           stress-ng                  # load beside test_cli_slow_producers and tests/stress/*.sh
           systemd)                   # systemd-analyze verify of docs/ringhost@.service (not run)
bench_pkgs=(libdpdk-dev libzmq3-dev   # ringhost-bench is built only with both
            gnuplot-nox               # the figures of docs/bench
            iceoryx libiceoryx-binding-c-dev)  # the zero-copy peer in ringhost bench
cluster_pkgs=(nats-server)
fuzz_pkgs=(clang-14 libclang-rt-14-dev)   # the fuzzers (.ci/fuzz.sh)

[ $# -gt 0 ] || set -- run
pkgs=("${run_pkgs[@]}")
for group in "$@"; do
  case "$group" in
    run) ;;
    test) pkgs+=("${test_pkgs[@]}") ;;
    bench) pkgs+=("${bench_pkgs[@]}") ;;
    cluster) pkgs+=("${cluster_pkgs[@]}") ;;
    fuzz) pkgs+=("${fuzz_pkgs[@]}") ;;
    ci) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}" "${cluster_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
    *) echo "deps.sh: unknown group \"$group\": expected run, test, bench, cluster, fuzz or ci" >&2
       exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  case " ${missing[*]-} " in *" $p "*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "ringhost: packages for '$*': all installed" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ringhost: missing packages: ${missing[*]}" >&2
  echo "ringhost: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

# The process holding one of apt's locks ("pid N (comm)"), or nothing.
# apt and dpkg take them with fcntl(F_SETLK): /proc/locks names the holder
# by pid and the locked file by inode, so no psmisc (fuser) is needed.
lock_holder() {
  local f ino pid
  for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock \
           /var/cache/apt/archives/lock; do
    [ -e "$f" ] || continue
    ino=$(stat -c %i "$f")
    pid=$(awk -v ino="$ino" '{ split($6, a, ":"); if (a[3] == ino) { print $5; exit } }' /proc/locks)
    if [ -n "$pid" ]; then
      echo "pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo gone)) holds $f"
      return
    fi
  done
}

# Wait for another apt or dpkg (unattended-upgrades, a second make) to
# finish, up to LOCK_WAIT_S seconds, saying once who it is; apt itself
# waits as long for a lock taken between this check and its start
# (DPkg::Lock::Timeout).
LOCK_WAIT_S=${LOCK_WAIT_S:-120}
wait_for_apt() {
  local holder deadline=$((SECONDS + LOCK_WAIT_S)) said=
  while holder=$(lock_holder) && [ -n "$holder" ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "ringhost: gave up after ${LOCK_WAIT_S} s: $holder; run the command again once it has finished" >&2
      exit 1
    fi
    [ -n "$said" ] || echo "ringhost: waiting up to ${LOCK_WAIT_S} s for apt: $holder" >&2
    said=1
    sleep 1
  done
}

log=$(mktemp /tmp/ringhost-apt.XXXXXX.log)
apt() {
  wait_for_apt
  if ! apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT_S" "$@" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "ringhost: apt-get $1 failed (whole output: $log)" >&2
    exit 1
  fi
}
export DEBIAN_FRONTEND=noninteractive
echo "ringhost: [1/2] apt-get update" >&2
apt update
echo "ringhost: [2/2] installing ${#missing[@]} packages: ${missing[*]}" >&2
apt install -y --no-install-recommends "${missing[@]}"
rm -f "$log"
