#!/usr/bin/env bash
# tools/device_perf.sh — the per-message path measured on the lent machine's
# quiet 16 cores (issue "The per-message path": --ab against a base build,
# the cores group, the JetStream link), after tools/gpu_smoke.sh pack:
#
#   here:   bash tools/gpu_smoke.sh pack
#           D=.devcarry; mkdir -p $D/rel/bench_plugins $D/base/bench_plugins $D/bin
#           cp REL/ringhost REL/ringhost-bench $D/rel/ && cp REL/bench_plugins/bench_echo_p64.so $D/rel/bench_plugins/
#           cp BASE/ringhost BASE/ringhost-bench $D/base/ && cp BASE/bench_plugins/bench_echo_p64.so $D/base/bench_plugins/
#           cp /usr/sbin/nats-server $D/bin/     # and what `ldd REL/ringhost-bench` names, into $D/lib
#     (REL: a Release build of this code; BASE: a Release build of the code to compare with)
#   there:  bash tools/device_perf.sh          # with .devcarry carried; results under $OUT
# (what it runs)
D=$PWD/.devcarry; OUT=${OUT:-$PWD/perf-out}; mkdir -p $OUT
export LD_LIBRARY_PATH=$D/lib:${LD_LIBRARY_PATH:-}; export PATH=$D/bin:$PATH
nproc; lscpu | grep -E "Model name|NUMA node|Socket|Thread" 
C="rh.echo.inline.adaptive.b32.p64,rh.echo.inline.nolatency,rh.echo.thread.adaptive.b32.p64,mutex.echo.b32.p64,rte_ring.hop.b32.p64,rte_ring.echo.b32.p64,rh.rtt.inline.spin.p64,rh.rtt.inline.adaptive.p64,rte_ring.rtt.p64,rh.queue.hop.b32.p64"
echo "== A/B: this build (A) against c9e57fa (B), ABBA"
timeout 280 $D/rel/ringhost bench --ab $D/base/ringhost --quick --reps 4 --cpus 2,3 --only "$C" --json $OUT/ab.json > $OUT/ab.txt 2>&1; echo rc=$?
grep -vE "^\[|^ *$" $OUT/ab.txt | head -60
echo "== cores"
timeout 200 $D/rel/ringhost-bench --quick --cpus 2,3,4,5,6,7,8,9,10,11 --only .cores. --json $OUT/cores.json > $OUT/cores.txt 2>&1; echo rc=$?
grep -E "cores|msg/s" $OUT/cores.txt | grep -v "^\[" | head -40
echo "== remote"
timeout 90 $D/rel/ringhost-bench --quick --reps 3 --cpus 2,3 --only nats.remote,rh.remote --json $OUT/remote.json > $OUT/remote.txt 2>&1; echo rc=$?
grep -E "remote" $OUT/remote.txt | grep -v "^\[" | head -20
