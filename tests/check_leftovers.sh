#!/usr/bin/env bash
# check_leftovers.sh start|check RUN_DIR — the first and the last test of
# every ctest run (tests/CMakeLists.txt: fixture rh_run).
#
#   start  makes RUN_DIR afresh: RUN_DIR/rt/<test>/ will be each test's
#          runtime folder (RINGHOST_RUNTIME_DIR: control sockets, locks),
#          RUN_DIR/instances the ledger of instance names the test helpers
#          handed out (tests/support/run_ledger.h), RUN_DIR/started the
#          run's start (its mtime).
#   check  fails, listing them, on anything this run left: a file in a
#          test's runtime folder, and /dev/shm/ringhost.<I>:* or .<I>.*
#          objects (queues, persisted state) or a socket or lock of <I> in
#          /tmp/ringhost-<uid>*/ for an instance <I> of the ledger.
# Only names tied to this run are looked at: other test runs and real hosts
# share /dev/shm and /tmp, and may be running right now.
set -euo pipefail
mode=${1:?start|check}
run=${2:?RUN_DIR}
case "$mode" in
  start)
    rm -rf "$run"
    mkdir -p -m 700 "$run/rt"
    : >"$run/instances"
    : >"$run/started" # never written again: what is older is not this run's
    ;;
  check)
    left=()
    if [ -d "$run/rt" ]; then
      while IFS= read -r f; do left+=("$f"); done < <(find "$run/rt" -mindepth 2 | sort)
    fi
    if [ -f "$run/instances" ]; then
      shopt -s nullglob
      while IFS= read -r i; do
        [ -n "$i" ] || continue
        for f in /dev/shm/"ringhost.$i:"* /dev/shm/"ringhost.$i."* \
                 /tmp/ringhost-"$(id -u)"*/"$i".sock /tmp/ringhost-"$(id -u)"*/"$i".lock; do
          # made during this run only: an instance name is <tag>-<pid>, and
          # a pid comes round again, so an older run's leftover (before
          # these checks existed) may carry this run's name
          [ -e "$run/started" ] && [ "$f" -ot "$run/started" ] || left+=("$f")
        done
      done < <(sort -u "$run/instances")
    fi
    if [ ${#left[@]} -gt 0 ]; then
      echo "this test run left ${#left[@]} files behind (expected none):" >&2
      printf '  %s\n' "${left[@]}" >&2
      exit 1
    fi
    echo "nothing left behind ($(sort -u "$run/instances" 2>/dev/null | wc -l) instances checked)"
    ;;
  *) echo "check_leftovers.sh: unknown mode $mode" >&2; exit 2 ;;
esac
