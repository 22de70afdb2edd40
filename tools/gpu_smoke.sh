#!/usr/bin/env bash
# tools/gpu_smoke.sh — the GPU checks and measurements, for a lent GPU machine
# that has the driver, jansson and hwloc but not this project's other
# libraries.
#
#   bash tools/gpu_smoke.sh pack   # here, after a build: binaries, plugins and the
#                                  # libraries ldd names, into .devcarry/ (ignored by git)
#   bash tools/gpu_smoke.sh run    # there, from the repo root, with .devcarry carried:
#                                  # logs and bench JSON under $OUT (or ./gpu-smoke-out)
#
# run: the three VectorAdd cases on the CPU and the GPU (answers compared),
# `ringhost-bench --quick --only gpu` (the bare baselines and ringhost's GPU
# echo, idle included), a fault run (echo_gpu failing seq 10, faulting at
# seq 50), test_cli_gpu and test_gpu_runtime.  Each step has a timeout.
set -u
cd "$(dirname "$0")/.."
D=$PWD/.devcarry
case "${1:-}" in
pack)
    B=${BUILD:-build}
    rm -rf "$D" && mkdir -p "$D/lib" "$D/plugins" "$D/bench_plugins" "$D/tests"
    cp "$B/ringhost" "$B/ringhost-bench" "$B/ringhost-bench-gpu" "$D/"
    cp plugins/*.so "$D/plugins/"
    cp "$B"/bench_plugins/bench_echo_p64.so "$B"/bench_plugins/bench_echo_gpu_p*.so "$D/bench_plugins/"
    cp "$B/tests/test_gpu_runtime" "$B/tests/test_cli_gpu" "$D/tests/"
    for f in $( (ldd "$B/ringhost-bench"; ldd "$B/ringhost"; ldd "$B/tests/test_gpu_runtime") |
                awk '$3 ~ /^\// {print $3}' | sort -u |
                grep -v 'libc.so\|libm.so\|libpthread\|libdl\|ld-linux'); do
        cp -L "$f" "$D/lib/"
    done
    python3 - "$D" <<'PY'
import json, sys
d = sys.argv[1]
m = {"ringhost": 1, "name": "echo-gpu-fault", "plugins": ["plugins"],
     "queues": {"e.in": {"type": "echo.message"}, "e.out": {"type": "echo.message"}},
     "kernels": [{"name": "e", "plugin": "echo_gpu", "isolation": "cuda", "bridge": "thread",
                  "inputs": {"in": "e.in"}, "outputs": {"out": "e.out"},
                  "restart": {"max": 5, "backoff_ms": 50},
                  "config": {"fail_seq": 10, "trap_seq": 50}}]}
json.dump(m, open(d + "/echo_gpu_fault.json", "w"), indent=1)
with open(d + "/echo100.jsonl", "w") as f:
    for i in range(1, 101):
        f.write(json.dumps({"queue": "e.in", "body": {"seq": i, "text": "m%d" % i}}) + "\n")
PY
    du -sh "$D"
    echo "carry .devcarry; run: bash tools/gpu_smoke.sh run"
    ;;
run)
    OUT=${OUT:-$PWD/gpu-smoke-out}
    mkdir -p "$OUT"
    export LD_LIBRARY_PATH=$D/lib:${LD_LIBRARY_PATH:-}
    nvidia-smi --query-gpu=name,driver_version,pci.bus_id --format=csv,noheader
    mkdir -p plugins && cp "$D"/plugins/*.so plugins/
    # the tests name the paths they were built with
    [ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
    mkdir -p build && cp "$D/ringhost" build/
    echo "== three cases, CPU vs GPU"
    timeout 60 "$D/ringhost" run manifests/vector_add.json --send manifests/vector_add.requests.jsonl > "$OUT/cpu3.txt" 2> "$OUT/cpu3.err"; echo "cpu rc=$?"
    timeout 60 "$D/ringhost" run manifests/vector_add_gpu.json --send manifests/vector_add.requests.jsonl > "$OUT/gpu3.txt" 2> "$OUT/gpu3.err"; echo "gpu rc=$?"
    grep -v "level=info\|level=debug" "$OUT/gpu3.err" | tail -6
    diff <(sed 's/"id": "[^"]*"//g' "$OUT/cpu3.txt") <(sed 's/"id": "[^"]*"//g' "$OUT/gpu3.txt") > "$OUT/diff3.txt" &&
        echo "SAME: GPU answers == CPU answers"
    echo "== bench"
    timeout 240 "$D/ringhost-bench" --quick --cpus 2,3 --only gpu --json "$OUT/bench.json" > "$OUT/bench.txt" 2>&1; echo "rc=$?"
    grep -E "^\[" "$OUT/bench.txt" | grep -v "rep [12]/" | cut -c1-150 | head -40
    grep -E "FAILED|skipped|ERROR|error" -A1 "$OUT/bench.txt" | head -12
    echo "== fault run (fail_seq 10, trap_seq 50)"
    timeout 90 "$D/ringhost" run "$D/echo_gpu_fault.json" --send "$D/echo100.jsonl" --timeout 30 > "$OUT/fault.txt" 2> "$OUT/fault.err"; echo "rc=$?"
    echo "answers: $(grep -c e.out "$OUT/fault.txt")"
    grep -E "device_fault|kernel.restart|poison|accounting|summary: kernel|level=error" "$OUT/fault.err" | cut -c1-300 | head -20
    echo "== test_cli_gpu"; timeout 120 "$D/tests/test_cli_gpu" 2>&1 | grep -E "OK|FAIL|ERROR|skipped" | cut -c1-250
    echo "== test_gpu_runtime"; timeout 240 "$D/tests/test_gpu_runtime" > "$OUT/gpu_runtime.txt" 2>&1; echo "rc=$?"
    grep -vE "^\[ RUN" "$OUT/gpu_runtime.txt" | cut -c1-300 | tail -14
    ;;
*)
    echo "usage: bash tools/gpu_smoke.sh pack|run" >&2
    exit 2
    ;;
esac
