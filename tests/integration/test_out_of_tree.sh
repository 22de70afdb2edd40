#!/usr/bin/env bash
# test_out_of_tree.sh — a kernel written outside the ringhost tree
# (examples/out_of_tree_kernel) builds against the installed package only,
# passes its own harness test, and the installed host loads it and answers.
# Arguments: see out_of_tree_common.sh.
. "$(dirname "$0")/out_of_tree_common.sh"

install_prefix

# A copy, so nothing can find the source tree next to the example.
cp -R "$RH_SOURCE_DIR/examples/out_of_tree_kernel" "$WORK/stats"
rm -rf "$WORK/stats/build"
build_kernel "$WORK/stats"
[ -f "$WORK/stats/build/plugins/stats.so" ] || fail "no build/plugins/stats.so"

step "the installed ringhost lists the plugin"
quiet "ringhost plugins" "$PREFIX/bin/ringhost" plugins "$WORK/stats/build/plugins"
grep -q "kernel stats 1.0.0" "$WORK/last.log" || { cat "$WORK/last.log"; fail "stats not listed"; }

run_host "$WORK/stats/manifest.json" "$WORK/stats/requests.jsonl"
expect_output '"body": {"count": 4, "min": 1.0, "max": 4.0, "mean": 2.5}'
expect_output '"body": {"count": 2, "min": -1.5, "max": 0.5, "mean": -0.5}'
[ "$(grep -c '"correlation_id": ' "$WORK/out.jsonl")" = 2 ] || fail "expected 2 answers"
grep -q "kernel stats: processed 2, failed 0, emitted 2" "$WORK/err.txt" ||
    { cat "$WORK/err.txt"; fail "the summary does not count 2 processed and emitted"; }
echo "PASS: out-of-tree kernel built against $PREFIX only, tested, run by the installed host"
