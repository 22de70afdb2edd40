#!/usr/bin/env bash
# test_new_kernel_cuda.sh — `ringhost new-kernel --cuda NAME DIR` from an
# installed ringhost: the folder it writes builds against the installed
# package only (nvcc, when found, builds its device code into NAME.so), its
# CPU test (the device loop driven on the CPU) passes, its GPU test passes
# on a GPU or is skipped saying why, and the installed host loads the plugin
# (without a GPU: the launch refuses it naming the kernel and the reason).
# Arguments: see out_of_tree_common.sh.
. "$(dirname "$0")/out_of_tree_common.sh"

install_prefix
RINGHOST=$PREFIX/bin/ringhost
[ -f "$PREFIX/include/ringhost/device.cuh" ] || fail "the install has no ringhost/device.cuh"
[ -n "$(find "$PREFIX" -name RinghostCuda.cmake)" ] || fail "the install has no RinghostCuda.cmake"

step "a bad NAME is refused with --cuda as without"
rc=0
"$RINGHOST" new-kernel --cuda 9lives "$WORK/nine" >/dev/null 2>"$WORK/err.txt" || rc=$?
[ "$rc" = 2 ] && grep -F -q 'it starts with a digit' "$WORK/err.txt" && [ ! -e "$WORK/nine" ] ||
    fail "new-kernel --cuda 9lives: exit $rc, expected 2 and nothing written"

step "$RINGHOST new-kernel --cuda gfoo $WORK/gfoo"
quiet "new-kernel --cuda" "$RINGHOST" new-kernel --cuda gfoo "$WORK/gfoo"
cat "$WORK/last.log"
for f in CMakeLists.txt gfoo.h gfoo.c gfoo_device.cu gfoo_request.json gfoo_response.json \
         test_gfoo.cpp test_gfoo_gpu.sh manifest.json requests.jsonl README.md .gitignore; do
    [ -f "$WORK/gfoo/$f" ] || fail "new-kernel --cuda wrote no $f"
done
grep -q 'RH_DEVICE_KERNEL(gfoo_loop, gfoo)' "$WORK/gfoo/gfoo_device.cu" ||
    fail "gfoo_device.cu does not define its loop with RH_DEVICE_KERNEL"
grep -q 'DEVICE_SOURCES gfoo_device.cu' "$WORK/gfoo/CMakeLists.txt" ||
    fail "CMakeLists.txt does not build the device code"

build_kernel "$WORK/gfoo"
grep -E -q 'test_gfoo \.+ +Passed' "$WORK/last.log" ||
    fail "the CPU test of the device loop did not run and pass"

if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
    [ -f "$WORK/gfoo/build/plugins/gfoo.so" ] || fail "nvcc is here but no gfoo.so was built"
    step "its GPU test (ctest -L gpu)"
    (cd "$WORK/gfoo/build" && "$CTEST" -L gpu -V >"$WORK/gpu.log" 2>&1) ||
        { cat "$WORK/gpu.log"; fail "the GPU test failed"; }
    if grep -q 'PASS: gfoo answered on the GPU' "$WORK/gpu.log"; then
        echo "the GPU test ran on a GPU and passed"
    else
        grep -q 'skipped: no CUDA device: cannot run on' "$WORK/gpu.log" &&
            grep -q 'test_gfoo_gpu .*Skipped' "$WORK/gpu.log" ||
            { cat "$WORK/gpu.log"; fail "expected the GPU test to pass or be skipped saying why"; }
        grep 'skipped:' "$WORK/gpu.log" | head -1
        step "the installed host loads gfoo.so and refuses it at launch, saying why"
        rc=0
        (cd "$WORK/gfoo" && "$RINGHOST" run manifest.json --send requests.jsonl --timeout 30 \
            --instance "rh-oot-$$" >"$WORK/out.jsonl" 2>"$WORK/err.txt") || rc=$?
        [ "$rc" = 2 ] &&
            grep -q '^ringhost: manifest.json: kernels\[0\] (gfoo): cannot run on' "$WORK/err.txt" ||
            { cat "$WORK/err.txt"; fail "expected exit 2 naming the kernel, got $rc"; }
    fi
else
    echo "no nvcc: the device code and the GPU test were left out, the CPU test ran"
fi
echo "PASS: new-kernel --cuda wrote a GPU kernel that builds against $PREFIX only and passes its CPU test"
