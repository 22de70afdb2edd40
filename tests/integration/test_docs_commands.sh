#!/usr/bin/env bash
# test_docs_commands.sh — every build and link line of README.md and
# docs/*.md runs as written, against `cmake --install` of this build.
#
# The lines are read from the markdown itself, so they cannot drift: a
# fenced block right after a marker line
#     <!-- doc-test: SETUP [build-lines-only] -->
# is run with bash -e in a fresh folder that SETUP prepares:
#   new-kernel    what `ringhost new-kernel my .` writes (the README's
#                 "Without CMake" build)
#   embed         a copy of examples/embed/embed.c
#   source-tree   host/ and tests/ of the source tree, build/ this build
# build-lines-only runs only the block's cc/gcc commands (a measurement
# recipe whose other lines need a quiet machine or root).  The block sees
# P (the prefix), PKG_CONFIG_PATH and PATH of the install, and cc/gcc get
# this build's sanitizer flags.  A block holding a cc/gcc/clang line with no
# marker fails the test: a build line nobody runs.
# Then docs/ringhost@.service passes `systemd-analyze verify` (when it is
# installed; systemd need not be running).
# Arguments: those of out_of_tree_common.sh.
. "$(dirname "$0")/out_of_tree_common.sh"

docs=("$RH_SOURCE_DIR/README.md" "$RH_SOURCE_DIR"/docs/*.md)
mkdir "$WORK/blocks"
awk -v out="$WORK/blocks" '
  FNR == 1 { marker = ""; inblock = 0 }
  !inblock && /^<!-- doc-test: .* -->$/ {
    marker = $0; sub(/^<!-- doc-test: /, "", marker); sub(/ -->$/, "", marker)
    where = FILENAME ":" FNR; next
  }
  /^```/ && !inblock {
    inblock = 1; start = FILENAME ":" FNR; hasbuild = 0; capture = marker != ""
    if (capture) { n++; file = out "/" n ".sh"; printf "" > file
                   print marker > (out "/" n ".setup"); print where > (out "/" n ".where") }
    marker = ""; next
  }
  /^```/ && inblock {
    inblock = 0
    if (capture) close(file); else if (hasbuild) print start > (out "/unmarked")
    next
  }
  inblock && capture { print > file }
  inblock && !capture && /^ *(cc|gcc|clang) / { hasbuild = 1 }
  !inblock && marker != "" && NF { print where ": a doc-test marker not followed by a fenced block" > (out "/unmarked"); marker = "" }
' "${docs[@]}"
if [ -s "$WORK/blocks/unmarked" ]; then
    sed 's/^/  /' "$WORK/blocks/unmarked" >&2
    fail "build lines in the docs that this test does not run: mark each block with <!-- doc-test: SETUP -->"
fi
n=$(find "$WORK/blocks" -name '*.sh' | wc -l)
[ "$n" -ge 3 ] || fail "expected at least 3 marked blocks (README: Without CMake, embed; PERFORMANCE.md), found $n"

install_prefix
PCDIR=$(dirname "$(find "$PREFIX" -name ringhost.pc -print -quit)")

for i in $(seq 1 "$n"); do
    read -r setup flags <"$WORK/blocks/$i.setup" || true
    where=$(cat "$WORK/blocks/$i.where")
    dir=$WORK/run$i
    case "$setup" in
        new-kernel) quiet "new-kernel" "$PREFIX/bin/ringhost" new-kernel my "$dir" ;;
        embed) mkdir "$dir" && cp "$RH_SOURCE_DIR/examples/embed/embed.c" "$dir/" ;;
        source-tree) mkdir "$dir" && ln -s "$RH_SOURCE_DIR/host" "$RH_SOURCE_DIR/tests" "$dir/" &&
                     ln -s "$RH_BUILD_DIR" "$dir/build" ;;
        *) fail "$where: unknown doc-test setup \"$setup\" (new-kernel, embed, source-tree)" ;;
    esac
    script=$WORK/blocks/$i.sh
    if [ "${flags:-}" = build-lines-only ]; then
        # each cc/gcc command with its continuation lines; outputs stay in the folder
        awk '/^ *(cc|gcc|clang) / { on = 1 } on { print } on && !/\\$/ { on = 0 }' "$script" |
            sed 's|/tmp/|./|g' >"$script.only"
        script=$script.only
    fi
    step "$where ($setup${flags:+ $flags})"
    sed 's/^/    /' "$script"
    (
        cd "$dir"
        export P=$PREFIX PKG_CONFIG_PATH=$PCDIR PATH=$PREFIX/bin:$PATH
        cc() { command cc $RH_OOT_CFLAGS "$@" $RH_OOT_LDFLAGS; }
        gcc() { command gcc $RH_OOT_CFLAGS "$@" $RH_OOT_LDFLAGS; }
        export -f cc gcc
        export RH_OOT_CFLAGS RH_OOT_LDFLAGS
        bash -euo pipefail "$script"
    ) >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; fail "$where: the block failed"; }
done

step "systemd-analyze verify docs/ringhost@.service"
if command -v systemd-analyze >/dev/null; then
    # the unit as written, its ExecStart pointed at this build's binary
    mkdir "$WORK/unit"
    sed "s|/usr/local/bin/ringhost|$RH_BUILD_DIR/ringhost|g" "$RH_SOURCE_DIR/docs/ringhost@.service" \
        >"$WORK/unit/ringhost@.service"
    systemd-analyze verify --man=no "$WORK/unit/ringhost@vadd.service" >"$WORK/last.log" 2>&1 ||
        { cat "$WORK/last.log" >&2; fail "systemd-analyze verify docs/ringhost@.service"; }
    [ ! -s "$WORK/last.log" ] || { cat "$WORK/last.log" >&2; fail "systemd-analyze verify: warnings"; }
else
    echo "systemd-analyze not installed (Debian package systemd): the unit is not verified"
fi
echo "PASS: $n doc blocks"
