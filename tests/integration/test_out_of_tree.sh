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

# A program hosting that kernel in its own process through the installed
# embedding library (ringhost::embed), and the same source built with only
# pkg-config's ringhost-embed.pc.
cp -R "$RH_SOURCE_DIR/examples/embed" "$WORK/embed"
rm -rf "$WORK/embed/build"
build_project "$WORK/embed"
step "the embedding program runs the stats kernel in its own process"
quiet "embed" "$WORK/embed/build/embed" "$WORK/stats/manifest.json" stats.in \
    '{"values": [2, 4]}' stats.out
grep -q '"body": {"count":2,"min":2.0,"max":4.0,"mean":3.0}' "$WORK/last.log" ||
    { cat "$WORK/last.log"; fail "embed: expected the summary of [2, 4]"; }
grep -q "accounting: queue stats.in: accepted 1 = delivered 1" "$WORK/last.log" ||
    { cat "$WORK/last.log"; fail "embed: expected a balanced accounting line"; }
step "and built with pkg-config ringhost-embed only"
PKG_CONFIG_PATH=$(dirname "$(find "$PREFIX" -name ringhost-embed.pc)") \
    quiet "cc embed.c with pkg-config" sh -c "cc -Wall -Wextra -Werror $RH_OOT_CFLAGS \
        -o '$WORK/embed-pc' '$WORK/embed/embed.c' $RH_OOT_LDFLAGS \
        \$(pkg-config --cflags --libs ringhost-embed)"
quiet "embed (pkg-config)" "$WORK/embed-pc" "$WORK/stats/manifest.json" stats.in \
    '{"values": [1]}' stats.out
grep -q '"mean":1.0' "$WORK/last.log" || { cat "$WORK/last.log"; fail "embed-pc: no answer"; }
echo "PASS: out-of-tree kernel built against $PREFIX only, tested, run by the installed host"
echo "PASS: the installed embedding library hosts it in a program of its own"
