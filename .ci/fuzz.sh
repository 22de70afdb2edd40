#!/usr/bin/env bash
# CI: build the libFuzzer targets of fuzz/ with clang (ASan + UBSan +
# coverage) in build-fuzz/, then run each one time-boxed from its committed
# seed corpus.  Exits non-zero when a fuzzer finds a crash, an out-of-bounds
# access, undefined behaviour, a leak or a hang (-timeout); the input that
# did it is left in build-fuzz/artifacts/ and printed in the log.
#
#   bash .ci/fuzz.sh                  # 60 s per fuzzer (about 4 minutes in all)
#   FUZZ_SECONDS=10 bash .ci/fuzz.sh  # shorter
#   bash .ci/fuzz.sh fuzz_queue       # one of them
#   build-fuzz/fuzz/fuzz_queue build-fuzz/artifacts/fuzz_queue-crash-...   # replay one input
#
# New inputs the fuzzers find go to build-fuzz/corpus/<name>/, never into the
# committed fuzz/corpus/<name>/ (add one there by hand when it is worth
# keeping as a seed or a regression).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
build=build-fuzz
fuzzers=("$@")
[ ${#fuzzers[@]} -gt 0 ] || fuzzers=(fuzz_manifest fuzz_codec fuzz_queue)

bash .ci/deps.sh fuzz
cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then
  echo "fuzz: clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi

start=$(date +%s)
mkdir -p "$build"
# Kernels are not built here, but keep any clang-built .so out of plugins/.
if ! { CC=$cc cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGHOST_FUZZ=ON \
         -DRINGHOST_PLUGIN_OUTPUT_DIR="$PWD/$build/plugins" &&
       cmake --build "$build" -j2 --target rh_fuzzers; } >"$build/build.log" 2>&1; then
  tail -40 "$build/build.log" >&2
  echo "fuzz: the build failed (whole log: $build/build.log)" >&2
  exit 1
fi
echo "fuzz: built ${fuzzers[*]} in $(( $(date +%s) - start )) s; ${seconds} s each"

mkdir -p "$build/artifacts" "$build/logs"
failed=()
for f in "${fuzzers[@]}"; do
  work="$build/corpus/$f"
  mkdir -p "$work"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$build/artifacts/$f-")
  [ -f "fuzz/$f.dict" ] && args+=(-dict="fuzz/$f.dict")
  log="$build/logs/$f.log"
  t0=$(date +%s)
  # The first folder receives what the run finds; the seeds are read only.
  if "$build/fuzz/$f" "${args[@]}" "$work" "fuzz/corpus/$f" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz: $f: ok, ${runs:-?} inputs in $(( $(date +%s) - t0 )) s, $cov"
  else
    echo "fuzz: $f: FAILED after $(( $(date +%s) - t0 )) s; the end of $log:" >&2
    grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)|Uses: [0-9]+$' "$log" | tail -60 >&2
    ls -1 "$build/artifacts/$f-"* >&2 2>/dev/null || true
    failed+=("$f")
  fi
done
# fuzz_queue's shared queues (instance fuzzq<pid>), left by a run that ended on a finding
rm -f /dev/shm/ringhost.fuzzq[0-9]*
echo "fuzz: done in $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
