# out_of_tree_common.sh — sourced by the tests that build a kernel against
# the installed package only (test_out_of_tree.sh, test_new_kernel.sh).
#
# Arguments of those scripts, passed by tests/CMakeLists.txt:
#   $1 the ringhost build dir to install    $2 the ringhost source dir
#   $3 cmake    $4 ctest
#   $5 C flags and $6 link flags the kernel is built with: the sanitizer
#      flags of the ringhost build, so that an ASan or TSan host, harness
#      library and kernel are instrumented alike (empty in a plain build)
set -euo pipefail

RH_BUILD_DIR=$1
RH_SOURCE_DIR=$2
CMAKE=$3
CTEST=$4
RH_OOT_CFLAGS=${5:-}
RH_OOT_LDFLAGS=${6:-}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rh-oot.XXXXXX")
PREFIX=$WORK/prefix
trap 'rm -rf "$WORK"' EXIT

step() { echo "== $*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Run a command quietly; on failure show its output and fail with $1.
quiet() {
    local what=$1
    shift
    if ! "$@" >"$WORK/last.log" 2>&1; then
        cat "$WORK/last.log" >&2
        fail "$what: $*"
    fi
}

# The current build, installed to a prefix of its own.
install_prefix() {
    step "install $RH_BUILD_DIR to $PREFIX"
    quiet "cmake --install" "$CMAKE" --install "$RH_BUILD_DIR" --prefix "$PREFIX"
    local f
    for f in bin/ringhost bin/ringhost-gen include/ringhost/kernel.h include/ringhost/testing.h; do
        [ -e "$PREFIX/$f" ] || fail "the install has no $f"
    done
    # lib/ or lib/<multiarch>/, as GNUInstallDirs chose
    for f in ringhostConfig.cmake RinghostKernel.cmake ringhost.pc ringhost-testing.pc \
             ringhost-embed.pc libringhost_testing.a libringhost.a; do
        [ -n "$(find "$PREFIX" -name "$f")" ] || fail "the install has no $f"
    done
}

# Configure and build the CMake project in $1 against $PREFIX only: no
# package registry, and no path of the source tree may reach the build.
build_project() {
    local dir=$1
    step "configure and build $dir against $PREFIX"
    quiet "configure" "$CMAKE" -S "$dir" -B "$dir/build" \
        -DCMAKE_PREFIX_PATH="$PREFIX" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_COMPILE_WARNING_AS_ERROR=ON \
        -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
        -DCMAKE_C_FLAGS="$RH_OOT_CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$RH_OOT_LDFLAGS" \
        -DCMAKE_MODULE_LINKER_FLAGS="$RH_OOT_LDFLAGS"
    local found
    found=$(sed -n 's/^ringhost_DIR:[A-Z]*=//p' "$dir/build/CMakeCache.txt")
    case "$found" in
    "$PREFIX"/*) ;;
    *) fail "find_package(ringhost) found \"$found\", not the package in $PREFIX" ;;
    esac
    quiet "build" "$CMAKE" --build "$dir/build" -j2
    if grep -F -q "$RH_SOURCE_DIR/" "$dir/build/compile_commands.json" \
        "$dir/build/CMakeCache.txt"; then
        grep -F "$RH_SOURCE_DIR/" "$dir/build/compile_commands.json" "$dir/build/CMakeCache.txt" >&2
        fail "the build of $dir used a path of the source tree $RH_SOURCE_DIR"
    fi
}

# build_project, then the kernel project's own tests.
build_kernel() {
    local dir=$1
    build_project "$dir"
    step "its tests (ctest in $dir/build)"
    (cd "$dir/build" && quiet "the kernel's own tests" "$CTEST" --output-on-failure)
    grep -E "tests passed|Passed" "$WORK/last.log" | tail -1
}

# The installed host runs manifest $1 with requests $2; stdout goes to
# $WORK/out.jsonl, stderr to $WORK/err.txt.  The instance name is this
# process's, so runs in parallel never share queue names.
run_host() {
    step "$PREFIX/bin/ringhost run $1 --send $2"
    if ! "$PREFIX/bin/ringhost" run "$1" --send "$2" --timeout 60 --instance "rh-oot-$$" \
        >"$WORK/out.jsonl" 2>"$WORK/err.txt"; then
        cat "$WORK/out.jsonl" "$WORK/err.txt" >&2
        fail "ringhost run $1 failed"
    fi
    cat "$WORK/out.jsonl"
    echo
}

# $WORK/out.jsonl holds a line with the fixed text $1.
expect_output() {
    grep -F -q -- "$1" "$WORK/out.jsonl" || {
        cat "$WORK/out.jsonl" "$WORK/err.txt" >&2
        fail "expected an output line with: $1"
    }
}
