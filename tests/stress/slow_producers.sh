#!/usr/bin/env bash
# Slow is not dead, for minutes: the integration test test_cli_slow_producers
# (SCHED_IDLE producers, copying bursts of 16 and loops of the real
# `ringhost send`, beside `stress-ng --cpu 2`, into a serving echo host) run
# for SECONDS (default 180) instead of ctest's 15.  Prints one line with
# the figures (sent, refused, answered, duplicated, lost, corrupt) and exits
# non-zero when a send was refused, a message lost or duplicated, or a queue
# marked corrupt.
#
#   tests/stress/slow_producers.sh            # 3 minutes, build/
#   SECONDS_TO_RUN=600 BUILD=build-asan tests/stress/slow_producers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD:-build}
secs=${SECONDS_TO_RUN:-180}
command -v stress-ng >/dev/null || { echo "slow_producers: stress-ng not found (apt-get install stress-ng)" >&2; exit 1; }
[ -x "$build/tests/test_cli_slow_producers" ] || { echo "slow_producers: build $build first (cmake --build $build)" >&2; exit 1; }
SLOW_PRODUCERS_SECONDS=$secs "$build/tests/test_cli_slow_producers" 2>&1 | grep -E "slow_producers:|PASSED|FAILED|ERROR|expected" 
exit "${PIPESTATUS[0]}"
