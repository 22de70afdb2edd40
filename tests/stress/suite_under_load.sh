#!/usr/bin/env bash
# The whole test suite, RUNS times in a row, with `stress-ng --cpu 2` beside
# it: the check that no test passes only on a quiet machine.
#
#   bash tests/stress/suite_under_load.sh [RUNS] [BUILD]      (default 20, build)
#
# Builds BUILD first (as `make test` does), then runs `ctest -j2` RUNS
# times; each run's failures (names) go to a line of the summary, and the
# whole ctest output of a failed run to $LOGDIR/run-N.log.  stress-ng is
# started here and stopped by its pid on every exit path.  Exit 0 only when
# every run passed.  Extra ctest arguments: CTEST_ARGS (e.g. "-E slow").
set -uo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-20}
BUILD=${2:-build}
LOGDIR=${LOGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/ringhost-suite.XXXXXX")}
command -v stress-ng >/dev/null || { echo "suite_under_load: needs stress-ng (apt-get install stress-ng)" >&2; exit 2; }

cmake --build "$BUILD" -j"$(nproc)" >/dev/null || { echo "suite_under_load: build of $BUILD failed" >&2; exit 1; }

stress-ng --cpu 2 --quiet &
STRESS=$!
# The EXIT trap stops stress-ng; INT and TERM end the script (a trap that
# only stopped stress-ng would let the loop go on without it).
trap 'kill "$STRESS" 2>/dev/null; wait "$STRESS" 2>/dev/null' EXIT
trap 'exit 143' INT TERM

passed=0
for i in $(seq 1 "$RUNS"); do
  start=$(date +%s)
  # shellcheck disable=SC2086
  (cd "$BUILD" && ctest -j2 --timeout 300 --output-on-failure ${CTEST_ARGS:-}) > "$LOGDIR/run-$i.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "run $i/$RUNS: passed (${secs} s)"
    rm -f "$LOGDIR/run-$i.log"
  else
    failed=$(sed -n 's/^[[:space:]]*[0-9]* - \([A-Za-z0-9_]*\) .*/\1/p' "$LOGDIR/run-$i.log" | tr '\n' ' ')
    echo "run $i/$RUNS: FAILED (${secs} s): ${failed:-?} (log: $LOGDIR/run-$i.log)"
  fi
done
echo "suite_under_load: $passed of $RUNS full runs passed beside stress-ng --cpu 2"
[ "$passed" -eq "$RUNS" ]
