#!/usr/bin/env bash
# The race tests with one side far slower than the other: "a race test must
# hold when one side runs 100x faster or slower".
#
#   bash tests/stress/race_tests_skewed.sh [RUNS] [BUILD]     (default 20, build)
#
# Every test program that races threads or processes (the list below: each
# starts threads or forks and checks what they did together) runs RUNS
# times in each of two conditions:
#   one-cpu  the test confined to cpu 0 (taskset) beside a `stress-ng --cpu 1`
#            worker on the same cpu: only one of its threads runs at a time,
#            and each side is descheduled for whole scheduler slices
#            (milliseconds) while the other runs, so one side is 100x to
#            1000x slower than the other at any moment, turn by turn;
#   busy     `stress-ng --cpu 2` beside it, the test on both cpus.
# Prints each program's passes per condition; exits 0 only when all passed.
# stress-ng is stopped by pid on every exit path.
set -uo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-20}
BUILD=${2:-build}
command -v stress-ng >/dev/null || { echo "race_tests_skewed: needs stress-ng" >&2; exit 2; }
TESTS=${RACE_TESTS:-"test_queue test_queue_loan test_queue_peek test_queue_persist test_queue_shm
test_queue_notes test_ring test_wait test_hotswap test_log test_id test_cli_loans
test_cli_control_socket"}

STRESS=
stop_stress() { [ -n "$STRESS" ] && kill "$STRESS" 2>/dev/null && wait "$STRESS" 2>/dev/null; STRESS=; }
# EXIT stops the stress worker; INT and TERM end the script (a trap that
# only stopped it would let the loop go on unloaded).
trap stop_stress EXIT
trap 'exit 143' INT TERM

all_ok=1
run_condition() { # name, prefix command...
  local cond=$1; shift
  for t in $TESTS; do
    [ -x "$BUILD/tests/$t" ] || continue
    local ok=0
    for _ in $(seq 1 "$RUNS"); do
      # ctest's environment (plugin folder, binary) comes from the test's own
      # compile definitions; run from the build's tests folder as ctest does.
      if (cd "$BUILD/tests" && timeout 300 "$@" "./$t" >/tmp/race_$$.log 2>&1); then
        ok=$((ok + 1))
      else
        cp /tmp/race_$$.log "/tmp/race_${t}_${cond}_fail.log"
      fi
    done
    [ "$ok" -eq "$RUNS" ] || all_ok=0
    echo "$cond $t: $ok/$RUNS passed$([ "$ok" -eq "$RUNS" ] || echo " (last failure: /tmp/race_${t}_${cond}_fail.log)")"
  done
  rm -f /tmp/race_$$.log
}

stress-ng --cpu 1 --taskset 0 --quiet &
STRESS=$!
run_condition one-cpu taskset -c 0
stop_stress

stress-ng --cpu 2 --quiet &
STRESS=$!
run_condition busy
stop_stress

[ "$all_ok" -eq 1 ]
