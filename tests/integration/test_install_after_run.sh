#!/usr/bin/env bash
# test_install_after_run.sh — installing works after either README command:
# a fresh build made by `make run` only (the host, the
# kernels and the install set, no test) installs with `cmake --install`;
# `make install PREFIX=P` builds what it installs and no test; an install
# from a build that lacks a file says which target to build, not CMake's
# "file INSTALL cannot find".
# Arguments: those of out_of_tree_common.sh.
. "$(dirname "$0")/out_of_tree_common.sh"

BUILD=$WORK/build
REL=$(realpath --relative-to="$RH_SOURCE_DIR" "$BUILD")   # the Makefile runs ./$(BUILD)/ringhost

no_tests_built() {
    local t
    t=$(find "$BUILD" -type f -name 'test_*' -perm -u+x -print -quit)
    [ -z "$t" ] || fail "$1 built a test ($t); it must build only what it needs"
}
has_install() {
    local f
    for f in bin/ringhost bin/ringhost-gen include/ringhost/testing.h share/man/man1/ringhost.1 \
             share/bash-completion/completions/ringhost; do
        [ -e "$1/$f" ] || fail "the install in $1 has no $f"
    done
    for f in libringhost_testing.a libringhost.a libringhost.so.1 ringhostConfig.cmake; do
        [ -n "$(find "$1" -name "$f")" ] || fail "the install in $1 has no $f"
    done
}

# The fresh build's kernels go to a folder of this test, not to the source
# tree's plugins/ (the default), which other tests running meanwhile load;
# the demo finds them there first (--plugins).
step "configure $REL with its kernels in $WORK/plugins"
quiet "configure" "$CMAKE" -S "$RH_SOURCE_DIR" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRINGHOST_PLUGIN_OUTPUT_DIR="$WORK/plugins"
step "make run BUILD=$REL (a fresh build)"
quiet "make run" make -C "$RH_SOURCE_DIR" run BUILD="$REL" JOBS=2 RUN_FLAGS="--plugins $WORK/plugins --instance install-$$"
[ -f "$WORK/plugins/vector_add.so" ] || fail "make run did not build the kernels into $WORK/plugins"
grep -q "accounting: queue vadd.in" "$WORK/last.log" ||
    { cat "$WORK/last.log"; fail "make run: expected the demo's accounting line"; }
no_tests_built "make run"

step "cmake --install after make run"
quiet "cmake --install after make run" "$CMAKE" --install "$BUILD" --prefix "$WORK/p1"
has_install "$WORK/p1"

step "cmake --install from a build missing libringhost_testing.a says what to build"
rm "$(find "$BUILD" -name libringhost_testing.a)"
if "$CMAKE" --install "$BUILD" --prefix "$WORK/p2" >"$WORK/last.log" 2>&1; then
    fail "cmake --install succeeded without libringhost_testing.a"
fi
# (CMake wraps the message: one grep per line of it)
{ grep -q "libringhost_testing.a was not built" "$WORK/last.log" &&
  grep -q -- "--target rh_install" "$WORK/last.log"; } ||
    { cat "$WORK/last.log"; fail "expected the message naming the file and rh_install"; }

step "make install PREFIX=... builds what it installs, no test"
quiet "make install" make -C "$RH_SOURCE_DIR" install BUILD="$REL" JOBS=2 PREFIX="$WORK/p3"
has_install "$WORK/p3"
no_tests_built "make install"
echo "PASS"
