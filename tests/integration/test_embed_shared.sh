#!/usr/bin/env bash
# test_embed_shared.sh — the installed shared library libringhost.so hosts a
# kernel in a program of its own: examples/embed/embed.c, built against the
# install only, once with pkg-config ringhost-embed-shared and once with the
# CMake package's ringhost::embed_shared, runs the echo kernel this tree
# built, loading libringhost.so.1 from the install (not the static archive,
# not the build tree).
# Arguments: those of out_of_tree_common.sh, then the folder holding the
# kernels this tree built (echo.so).
. "$(dirname "$0")/out_of_tree_common.sh"
PLUGIN_DIR=${7:?the kernels folder}
[ -f "$PLUGIN_DIR/echo.so" ] || fail "no $PLUGIN_DIR/echo.so"

install_prefix
LIB=$(find "$PREFIX" -name libringhost.so.1 -print -quit)
[ -n "$LIB" ] || fail "the install has no libringhost.so.1"
LIBDIR=$(dirname "$LIB")

# The echo demo, its kernels looked up in this build's folder.
cat >"$WORK/echo.json" <<EOF
{
  "ringhost": 1,
  "name": "echo-shared",
  "plugins": ["$PLUGIN_DIR"],
  "queues": {
    "echo.in": {"type": "echo.message"},
    "echo.out": {"type": "echo.message"}
  },
  "kernels": [
    {"name": "echo", "plugin": "echo", "inputs": {"in": "echo.in"}, "outputs": {"out": "echo.out"}}
  ]
}
EOF

# run_embed PROGRAM: it must link libringhost.so.1 of the install and
# answer one message.
run_embed() {
    local prog=$1
    readelf -d "$prog" | grep -q 'NEEDED.*\[libringhost\.so\.1\]' ||
        { readelf -d "$prog" >&2; fail "$prog does not link libringhost.so.1"; }
    local where
    where=$(ldd "$prog" | awk '$1 == "libringhost.so.1" { print $3 }')
    [ "$where" -ef "$LIB" ] || fail "$prog loads libringhost.so.1 from \"$where\", not $LIB"
    quiet "$prog" "$prog" "$WORK/echo.json" echo.in '{"seq": 7, "text": "shared"}' echo.out
    grep -q '"body": {"seq":7,"text":"shared"' "$WORK/last.log" ||
        { cat "$WORK/last.log"; fail "$prog: expected the echo of seq 7"; }
    grep -q "accounting: queue echo.in: accepted 1 = delivered 1" "$WORK/last.log" ||
        { cat "$WORK/last.log"; fail "$prog: expected a balanced accounting line"; }
}

step "embed.c with pkg-config ringhost-embed-shared"
PKG_CONFIG_PATH=$(dirname "$(find "$PREFIX" -name ringhost-embed-shared.pc)") \
    quiet "cc embed.c with pkg-config" sh -c "cc -Wall -Wextra -Werror $RH_OOT_CFLAGS \
        -o '$WORK/embed-pc' '$RH_SOURCE_DIR/examples/embed/embed.c' $RH_OOT_LDFLAGS \
        \$(pkg-config --cflags --libs ringhost-embed-shared jansson) -Wl,-rpath,'$LIBDIR'"
run_embed "$WORK/embed-pc"

step "embed.c with find_package(ringhost) and ringhost::embed_shared"
mkdir "$WORK/embed"
cp "$RH_SOURCE_DIR/examples/embed/embed.c" "$WORK/embed/"
cat >"$WORK/embed/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.19)
project(embed_shared LANGUAGES C)
find_package(ringhost 0.1 REQUIRED)
add_executable(embed embed.c)
target_link_libraries(embed PRIVATE ringhost::embed_shared PkgConfig::JANSSON)
EOF
build_project "$WORK/embed"
run_embed "$WORK/embed/build/embed"
echo "PASS: the installed libringhost.so hosts a kernel, through pkg-config and CMake"
